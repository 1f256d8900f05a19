// Browser side of the chat: the document viewer, citation chips, copy buttons and the sidebar.
// Document text is only ever inserted with textContent, never as HTML.
if (window.__assistantChat) return;
window.__assistantChat = true;

const cache = new Map();
const apiBase = new URL("api/", new URL(".", window.location.href)).href;

function el(tag, attrs, text) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

function viewer() {
  let box = document.getElementById("doc-viewer");
  if (box) return box;
  box = el("div", { id: "doc-viewer", role: "dialog", "aria-modal": "true", "aria-labelledby": "doc-viewer-title", hidden: "" });
  const panel = el("div", { class: "doc-panel" });
  const head = el("div", { class: "doc-head" });
  head.append(el("div", { id: "doc-viewer-title", class: "doc-title" }), el("button", { type: "button", class: "doc-close", "aria-label": "Close document" }, "×"));
  const meta = el("div", { class: "doc-meta", id: "doc-viewer-meta" });
  const body = el("div", { class: "doc-body", id: "doc-viewer-body", tabindex: "0" });
  panel.append(head, meta, body);
  box.append(panel);
  box.addEventListener("click", (e) => { if (e.target === box || e.target.closest(".doc-close")) closeViewer(); });
  document.body.append(box);
  return box;
}

function closeViewer() {
  const box = document.getElementById("doc-viewer");
  if (box) box.hidden = true;
  document.body.classList.remove("doc-open");
}

async function loadDocument(id) {
  if (!cache.has(id)) {
    const res = await fetch(apiBase + "documents/" + encodeURIComponent(id), { credentials: "same-origin" });
    if (!res.ok) {
      let msg = res.status + " " + res.statusText;
      try { msg = (await res.json()).error || msg; } catch (_) { /* not JSON */ }
      throw new Error(msg);
    }
    cache.set(id, await res.json());
  }
  return cache.get(id);
}

async function openViewer(id, start, end, cite) {
  const box = viewer();
  const title = box.querySelector(".doc-title");
  const meta = box.querySelector(".doc-meta");
  const body = box.querySelector(".doc-body");
  title.textContent = "Loading…";
  meta.textContent = "";
  body.replaceChildren();
  box.hidden = false;
  document.body.classList.add("doc-open");
  try {
    const doc = await loadDocument(id);
    title.textContent = doc.title || doc.id;
    meta.textContent = "Source " + cite + " · " + doc.id + " · characters " + start + "–" + end;
    // Offsets are Python string indexes (code points), so slice by code point.
    const chars = Array.from(doc.text);
    const mark = el("mark", { id: "doc-highlight", class: "doc-highlight" }, chars.slice(start, end).join(""));
    body.append(document.createTextNode(chars.slice(0, start).join("")), mark, document.createTextNode(chars.slice(end).join("")));
    requestAnimationFrame(() => mark.scrollIntoView({ block: "center" }));
    box.querySelector(".doc-close").focus({ preventScroll: true });
  } catch (err) {
    title.textContent = "Could not open the document";
    body.textContent = String(err.message || err);
  }
}

async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch (_) {
    const area = el("textarea", { "aria-hidden": "true", style: "position:fixed;left:-9999px" });
    area.value = text;
    document.body.append(area);
    area.select();
    const ok = document.execCommand("copy");
    area.remove();
    return ok;
  }
}

function activate(target) {
  const chip = target.closest(".cite-chip");
  if (chip) {
    // href="#cite:<n>:<start>:<end>:<doc id, URL-encoded>"
    const m = /#cite:(\d+):(\d+):(\d+):(.+)$/.exec(chip.getAttribute("href") || "");
    if (m) openViewer(decodeURIComponent(m[4]), Number(m[2]), Number(m[3]), m[1]);
    return true;
  }
  const card = target.closest(".source-card");
  if (card) {
    const d = card.dataset;
    openViewer(d.doc, Number(d.start), Number(d.end), d.cite);
    return true;
  }
  const copy = target.closest(".copy-answer");
  if (copy) {
    const holder = copy.closest(".ans") && copy.closest(".ans").querySelector(".copy-text");
    copyText(holder ? holder.textContent : "").then((ok) => {
      copy.textContent = ok ? "Copied ✓" : "Copy failed";
      copy.classList.toggle("copied", ok);
      setTimeout(() => { copy.textContent = "Copy"; copy.classList.remove("copied"); }, 1800);
    });
    return true;
  }
  return false;
}

document.addEventListener("click", (e) => {
  if (activate(e.target)) { e.preventDefault(); e.stopPropagation(); }
}, true);
document.addEventListener("keydown", (e) => {
  if (e.key === "Escape") closeViewer();
  if ((e.key === "Enter" || e.key === " ") && e.target.closest && e.target.closest(".source-card")) {
    e.preventDefault();
    activate(e.target);
  }
});

// The conversations sidebar. On a phone Gradio shows it full-screen, so it starts
// closed there and closes again once a conversation is picked; on a desktop it is
// measured again once it has its width (Gradio measures it when it mounts, which
// can be too early, and then does not move the page over to make room).
const PHONE = window.matchMedia("(max-width: 768px)");

function closeSidebar() {
  const bar = document.getElementById("conversations");
  if (bar && bar.classList.contains("open")) {
    const toggle = bar.querySelector(".toggle-button");
    if (toggle) toggle.click();
  }
}

function settleSidebar(tries) {
  if (!document.getElementById("conversations")) {
    if (tries > 0) setTimeout(() => settleSidebar(tries - 1), 100);
    return;
  }
  if (PHONE.matches) {
    closeSidebar();
  } else {
    window.dispatchEvent(new Event("resize"));
    setTimeout(() => window.dispatchEvent(new Event("resize")), 400);
  }
}
settleSidebar(100);

document.addEventListener("click", (e) => {
  if (PHONE.matches && e.target.closest && e.target.closest("#conversation-list label, #new-conversation")) {
    setTimeout(closeSidebar, 150);  // after the pick has been sent
  }
});
