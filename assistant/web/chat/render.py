"""HTML for the chat: answers with citation chips, sources, abstentions and conflicts.

Every piece of text that comes from a document, a question or a model goes
through ``html.escape`` here and nowhere else builds markup, so HTML or script
in a document is shown as text. The browser script (static/chat.js) reads only
``data-*`` attributes and inserts document text with ``textContent``.
"""

from __future__ import annotations

import contextlib
import re
from html import escape
from typing import Any
from urllib.parse import quote

from assistant.answer import Answer, Citation
from assistant.errors import AssistantError

_MARKER = re.compile(r"\[(\d{1,3})\]")
CONTEXT_CHARS = 140


def _attr(value: object) -> str:
    return escape(str(value), quote=True)


def _block(inner: str, classes: str, **data: object) -> str:
    # One line, no blank lines: Markdown leaves an HTML block like this alone.
    attrs = "".join(f' data-{k.replace("_", "-")}="{_attr(v)}"' for k, v in data.items())
    return f'<div class="{classes}"{attrs}>{inner}</div>'


def _text(value: str) -> str:
    """Escaped text whose line breaks survive inside one HTML block."""
    return "<br>".join(escape(line) for line in value.split("\n"))


def chip(c: Citation, collection: str | None = None) -> str:
    """A numbered chip; the chat's sanitiser drops data-* attributes, so the target is in the href.

    The collection rides along (``#cite:n:start:end:doc:collection``): a document id is
    only unique within its collection, and the chat may show answers from several.
    """
    title = f"{c.title} — {c.section}" if c.section else c.title
    target = f"#cite:{c.id}:{c.start}:{c.end}:{quote(c.source, safe='')}"
    if collection:
        target += f":{quote(collection, safe='')}"
    return (
        f'<a class="cite-chip" role="button" href="{_attr(target)}" title="{_attr(title)}">{c.id}</a>'
    )


def collection_of(answer: Answer) -> str | None:
    """The collection whose documents ``answer`` cites (None for answers saved before collections)."""
    name = answer.metadata.get("collection")
    return str(name) if name else None


def answer_text_html(answer: Answer) -> str:
    """The answer text, escaped, with each known ``[n]`` turned into a chip."""
    by_id = {c.id: c for c in answer.citations}
    collection = collection_of(answer)
    out, pos = [], 0
    for m in _MARKER.finditer(answer.text):
        c = by_id.get(int(m.group(1)))
        if c is None:
            continue
        out.append(_text(answer.text[pos : m.start()]).rstrip(" ") + " ")
        out.append(chip(c, collection))
        pos = m.end()
    out.append(_text(answer.text[pos:]))
    return "".join(out).strip()


def plain_answer(answer: Answer) -> str:
    """What 'Copy' puts on the clipboard: the text with [n] and a list of its sources."""
    lines = [answer.text]
    if answer.citations:
        lines.append("")
        for c in answer.citations:
            section = f", {c.section}" if c.section else ""
            date = f" ({c.date})" if c.date else ""
            lines.append(f"[{c.id}] {c.title}{section}{date}: \u201c{c.snippet}\u201d")
    return "\n".join(lines)


def render_user(question: str) -> str:
    return _block(_text(question), "msg-user")


def render_streaming(partial: str) -> str:
    return _block(_text(partial) + '<span class="typing" aria-hidden="true"></span>', "ans ans-streaming")


def render_error(message: str) -> str:
    return _block(
        '<div class="ans-badge">Could not answer</div>' + f'<div class="ans-text">{_text(message)}</div>',
        "ans ans-error",
    )


def render_conflicts(answer: Answer) -> str:
    if not answer.conflicts:
        return ""
    items = []
    for conflict in answer.conflicts:
        claims = []
        for claim in conflict.claims:
            cid = claim.get("citation_id")
            cited = next((c for c in answer.citations if c.id == cid), None)
            mark = chip(cited, collection_of(answer)) if cited else ""
            claims.append(f"<li>{escape(str(claim.get('text', '')))} {mark}</li>")
        items.append(f"<div><strong>Sources disagree on {escape(conflict.topic)}:</strong><ul>{''.join(claims)}</ul></div>")
    return f'<div class="ans-conflict" role="note"><span class="ans-badge warn">Conflicting sources</span>{"".join(items)}</div>'


def _collection_tag(answer: Answer) -> str:
    """Which collection answered, in the footer: the chat can switch collections, so say it."""
    name = collection_of(answer)
    if not name:
        return ""
    return f'<span class="ans-collection" title="The collection that answered">{escape(name)}</span>'


def render_answer(answer: Answer) -> str:
    """The final chat bubble for an answer."""
    # The text to copy rides along hidden; entities keep it on one line for Markdown.
    copy_text = escape(plain_answer(answer)).replace("\n", "&#10;")
    copy = (
        f'<pre class="copy-text" aria-hidden="true">{copy_text}</pre>'
        '<button type="button" class="copy-answer" title="Copy the answer and its sources">Copy</button>'
    ) + _collection_tag(answer)
    if answer.abstained:
        body = (
            '<div class="ans-badge muted">Not in the documents</div>'
            f'<div class="ans-text">{_text(answer.text)}</div>'
        )
        return _block(body + f'<div class="ans-actions">{copy}</div>', "ans ans-abstained")
    kind = "ans ans-conflicted" if answer.conflicts else "ans ans-ok"
    # No note when the model's sentence was dropped: only verified sentences were ever
    # shown, so there is nothing to take back (the API keeps it in metadata["fallback"]).
    notes = ""
    sources = ""
    if answer.citations:
        collection = collection_of(answer)
        rows = "".join(
            f"<li>{chip(c, collection)} {escape(c.title)}{' · ' + escape(c.section) if c.section else ''}</li>"
            for c in answer.citations
        )
        sources = f'<details class="ans-sources"><summary>Sources ({len(answer.citations)})</summary><ul>{rows}</ul></details>'
    body = f'<div class="ans-text">{answer_text_html(answer)}</div>{render_conflicts(answer)}{notes}{sources}'
    first_token = answer.timings.get("first_token_s")
    timing = f'<span class="ans-timing">{answer.timings.get("total_s", 0):.1f}s</span>' if first_token is not None else ""
    return _block(
        body + f'<div class="ans-actions">{copy}{timing}</div>',
        kind,
        generator=answer.metadata.get("generator", ""),
    )


def _context(text: str, start: int, end: int) -> tuple[str, str, str]:
    before = text[max(0, start - CONTEXT_CHARS) : start]
    after = text[end : end + CONTEXT_CHARS]
    if start - CONTEXT_CHARS > 0 and " " in before:
        before = "\u2026" + before.split(" ", 1)[1]
    if end + CONTEXT_CHARS < len(text) and " " in after:
        after = after.rsplit(" ", 1)[0] + "\u2026"
    return before, text[start:end], after


def render_sources_panel(answer: Answer | None, texts: dict[str, str]) -> str:
    """The sources panel: each cited span in its context, highlighted, and clickable."""
    if answer is None:
        return (
            '<div class="sources-empty">Sources appear here after an answer. '
            "Click a numbered chip to read the full document at the cited passage.</div>"
        )
    if answer.abstained or not answer.citations:
        return '<div class="sources-empty">No sources: the documents do not answer this question.</div>'
    cards = []
    collection = _attr(collection_of(answer) or "")
    for c in answer.citations:
        text = texts.get(c.source)
        if text is not None and text[c.start : c.end] == c.snippet:
            before, span, after = _context(text, c.start, c.end)
        else:
            before, span, after = "", c.snippet, ""
        before, span, after = (re.sub(r"\s+", " ", x) for x in (before, span, after))
        meta = " · ".join(escape(x) for x in (c.section, c.date or "") if x)
        cards.append(
            f'<li class="source-card" data-cite="{c.id}" data-doc="{_attr(c.source)}" '
            f'data-collection="{collection}" data-start="{c.start}" '
            f'data-end="{c.end}" tabindex="0" role="button" aria-label="Open source {c.id}">'
            f'<div class="source-head"><span class="source-num">{c.id}</span>'
            f'<span class="source-title">{escape(c.title)}</span></div>'
            f'<div class="source-meta">{meta}</div>'
            f'<div class="source-snippet"><span class="ctx">{_text(before)}</span><mark>{_text(span)}</mark>'
            f'<span class="ctx">{_text(after)}</span></div></li>'
        )
    return f'<ol class="sources-list">{"".join(cards)}</ol>'


def render_sources_for(assistant: Any, answer: Answer) -> str:
    """The sources panel of ``answer``, each span shown in its document's text where it can be read.

    The texts are read from the collection that answered (``answer.metadata["collection"]``),
    whichever collection the chat has picked since; when it is gone, only the snippets show.
    """
    texts: dict[str, str] = {}
    try:
        source_of = assistant.for_collection(collection_of(answer))
    except AssistantError:
        return render_sources_panel(answer, texts)
    for source in {c.source for c in answer.citations}:
        with contextlib.suppress(AssistantError):
            texts[source] = source_of.document_text(source)
    return render_sources_panel(answer, texts)


def render_notice(message: str, kind: str = "ok") -> str:
    """A one-line status message (``ok``, ``err`` or ``warn``) under a panel or form."""
    return f'<div class="notice {_attr(kind)}" role="status">{_text(message)}</div>'


def render_feedback_head(question: str, rating: str) -> str:
    """The feedback form's heading: the rating just saved, the question it is about, what to add."""
    if rating == "down":
        badge, hint = "Saved: not helpful", "What should it have said? A correction becomes a test question."
    else:
        badge, hint = "Saved: helpful", "Anything to add? A comment is optional."
    return (
        f'<div class="fb-head"><span class="fb-badge {_attr(rating)}">{badge}</span>'
        f'<div class="fb-question">About: \u201c{_text(question)}\u201d</div>'
        f'<div class="fb-hint">{hint}</div></div>'
    )


def render_documents(docs: list[dict[str, Any]] | None, collection: str, error: str | None = None) -> str:
    """The documents of ``collection`` for the documents panel; each title opens it in the viewer.

    ``docs`` is ``Assistant.documents()``; None (with ``error``) when the index could not be read.
    """
    where = f"in \u201c{escape(collection)}\u201d"
    if docs is None:
        reason = f": {escape(error)}" if error else "."
        return f'<div class="docs-list muted">The documents {where} cannot be listed{reason}</div>'
    if not docs:
        return f'<div class="docs-list muted">No documents {where} yet: add some above.</div>'
    rows = "".join(
        f'<li><a class="doc-link" role="button" href="#" data-doc="{_attr(d["id"])}" '
        f'data-collection="{_attr(collection)}" title="Read the whole document">{escape(d["title"] or d["id"])}</a> '
        f'<span class="doc-meta">{escape(d["id"])} · {d["chunks"]} chunks</span></li>'
        for d in docs
    )
    return f'<div class="docs-list"><div class="docs-head">Documents {where} ({len(docs)})</div><ul>{rows}</ul></div>'


def render_upload_report(report, error: str | None = None) -> str:
    """What an upload did, each refused file named with the reason."""
    if error is not None:
        return f'<div class="upload-msg err">{escape(error)}</div>'
    parts = []
    done = [("Added", report.added), ("Updated", report.updated), ("Already indexed", report.unchanged)]
    for label, ids in done:
        if ids:
            parts.append(f'<div class="upload-msg ok">{label}: {escape(", ".join(ids))}</div>')
    for item in report.refused:
        parts.append(
            f'<div class="upload-msg err">Refused {escape(item["file"])}: {escape(item["reason"])}</div>'
        )
    return "".join(parts) or '<div class="upload-msg warn">Nothing was added.</div>'
