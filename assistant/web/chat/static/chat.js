// Browser side of the chat: the document viewer, citation chips, copy buttons and the sidebar.
// Document text is only ever inserted with textContent, never as HTML.
// A document id is unique only within its collection, so every fetch and cache entry
// names the collection too (the chip's href, a card's or a title's data-collection).
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

async function loadDocument(id, collection) {
  const key = (collection || "") + "\u0000" + id;
  if (!cache.has(key)) {
    let url = apiBase + "documents/" + encodeURIComponent(id);
    if (collection) url += "?collection=" + encodeURIComponent(collection);
    const res = await fetch(url, { credentials: "same-origin" });
    if (!res.ok) {
      let msg = res.status + " " + res.statusText;
      try { msg = (await res.json()).error || msg; } catch (_) { /* not JSON */ }
      throw new Error(msg);
    }
    cache.set(key, await res.json());
  }
  return cache.get(key);
}

// start/end null: the whole document, from the top, nothing highlighted.
async function openViewer(id, collection, start, end, cite) {
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
    const doc = await loadDocument(id, collection);
    title.textContent = doc.title || doc.id;
    const where = collection ? " · " + collection : "";
    if (start === null || end === null) {
      meta.textContent = doc.id + where + " · " + Array.from(doc.text).length + " characters";
      body.textContent = doc.text;
      body.scrollTop = 0;
      box.querySelector(".doc-close").focus({ preventScroll: true });
      return;
    }
    meta.textContent = "Source " + cite + " · " + doc.id + where + " · characters " + start + "–" + end;
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
    // href="#cite:<n>:<start>:<end>:<doc id>[:<collection>]", both URL-encoded (no ':' left in them)
    const m = /#cite:(\d+):(\d+):(\d+):([^:]+)(?::([^:]*))?$/.exec(chip.getAttribute("href") || "");
    if (m) openViewer(decodeURIComponent(m[4]), m[5] ? decodeURIComponent(m[5]) : "", Number(m[2]), Number(m[3]), m[1]);
    return true;
  }
  const card = target.closest(".source-card");
  if (card) {
    const d = card.dataset;
    openViewer(d.doc, d.collection || "", Number(d.start), Number(d.end), d.cite);
    return true;
  }
  const link = target.closest(".doc-link");
  if (link) {
    openViewer(link.dataset.doc, link.dataset.collection || "", null, null, null);
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

// For the documents panel's Gradio events (app.py): "Open" shows the picked document;
// after an upload, re-index or delete the texts are fetched again.
window.__assistantDocs = {
  open: (id, collection) => openViewer(id, collection || "", null, null, null),
  forget: () => cache.clear(),
};
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
