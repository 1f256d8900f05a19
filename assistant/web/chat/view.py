"""One shape for every change to the page: a ``View`` names what to update, the rest stays.

Asking, opening, renaming, deleting, rating, switching collection and
managing documents each touch a different part of the page (the chat, the
conversation list, the feedback form, the collection bar, the documents
panel). Rather than one
positional tuple per handler, every handler returns a ``View`` whose fields
are named after the components; ``View.outputs()`` turns it into Gradio's
tuple, in the order of ``view_components(layout)``, with ``gr.skip()`` for
every field left at ``KEEP``. So an event's outputs list is always the same
and a handler cannot put a value in the wrong slot.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import gradio as gr

from assistant.web.chat.layout import SUGGESTION_SLOTS, ChatLayout


class _Keep:
    """The value of a field the handler does not change."""

    def __repr__(self) -> str:
        return "KEEP"


KEEP: Any = _Keep()


@dataclass
class View:
    """What a handler changes on the page; ``KEEP`` leaves a component as it is."""

    # the chat
    chatbot: Any = KEEP  # the messages, or gr.update(value=..., feedback_value=...)
    transcript: Any = KEEP  # the messages as shown (the chat's own copy)
    turns: Any = KEEP  # one dict per answer: saved turn id, question, answer text, rating, feedback
    sources: Any = KEEP
    question: Any = KEEP
    suggestions: Any = KEEP  # the title and SUGGESTION_SLOTS buttons (``suggestion_updates``)
    # the conversation list
    open_id: Any = KEEP  # the open conversation's id (kept in the browser), or None
    listing: Any = KEEP
    listing_empty: Any = KEEP
    tools: Any = KEEP
    title: Any = KEEP
    export_md: Any = KEEP
    export_json: Any = KEEP
    panel_status: Any = KEEP
    confirm: Any = KEEP
    # the feedback form
    form: Any = KEEP
    target: Any = KEEP  # which answer the form is about, and its rating
    form_head: Any = KEEP
    comment: Any = KEEP
    correction: Any = KEEP
    facts: Any = KEEP
    feedback_status: Any = KEEP
    # the collection bar (``library.showing`` fills collection and the documents panel together)
    collection: Any = KEEP  # the selector: gr.update(choices=..., value=name)
    collection_status: Any = KEEP
    new_collection: Any = KEEP
    # the documents panel
    documents: Any = KEEP  # the selected collection's document list (HTML)
    document_pick: Any = KEEP
    document_confirm: Any = KEEP
    document_status: Any = KEEP
    files: Any = KEEP
    upload_status: Any = KEEP

    def outputs(self) -> tuple[Any, ...]:
        """Gradio's values, in the order of ``view_components``."""
        out: list[Any] = []
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "suggestions":
                out.extend([gr.skip()] * (SUGGESTION_SLOTS + 1) if value is KEEP else value)
            else:
                out.append(gr.skip() if value is KEEP else value)
        return tuple(out)


def suggestion_updates(questions: list[str], title: str) -> list[Any]:
    """The suggestion title and buttons showing ``questions`` (unused buttons hidden)."""
    questions = questions[:SUGGESTION_SLOTS]
    head = gr.update(value=f'<div class="sugg-title">{title}</div>' if questions else "", visible=bool(questions))
    buttons = [
        gr.update(value=questions[i], visible=True) if i < len(questions) else gr.update(value="", visible=False)
        for i in range(SUGGESTION_SLOTS)
    ]
    return [head, *buttons]


def read(outputs: tuple[Any, ...]) -> dict[str, Any]:
    """The fields an ``outputs()`` tuple sets, by name (for tests and logs); skipped ones left out."""
    names: list[str] = []
    for f in fields(View):
        names.extend([f.name] * (SUGGESTION_SLOTS + 1) if f.name == "suggestions" else [f.name])
    found: dict[str, Any] = {}
    for name, value in zip(names, outputs, strict=True):
        if _is_skip(value):
            continue
        if name == "suggestions":
            found.setdefault(name, []).append(value)
        else:
            found[name] = value
    return found


def _is_skip(value: Any) -> bool:
    return isinstance(value, dict) and value.get("__type__") == "update" and len(value) == 1


def view_components(ui: ChatLayout) -> list[Any]:
    """The components a ``View`` updates, in its field order: every handler's outputs."""
    by_name: dict[str, Any] = {
        "chatbot": ui.chatbot,
        "transcript": ui.transcript,
        "turns": ui.turns,
        "sources": ui.sources,
        "question": ui.question,
        "suggestions": [ui.sugg_title, *ui.suggestions],
        "open_id": ui.open_id,
        "listing": ui.panel.listing,
        "listing_empty": ui.panel.empty,
        "tools": ui.panel.tools,
        "title": ui.panel.title,
        "export_md": ui.panel.export_md,
        "export_json": ui.panel.export_json,
        "panel_status": ui.panel.status,
        "confirm": ui.panel.confirm,
        "form": ui.feedback.form,
        "target": ui.feedback.target,
        "form_head": ui.feedback.head,
        "comment": ui.feedback.comment,
        "correction": ui.feedback.correction,
        "facts": ui.feedback.facts,
        "feedback_status": ui.feedback.status,
        "collection": ui.bar.collection,
        "collection_status": ui.bar.status,
        "new_collection": ui.bar.new_name,
        "documents": ui.docs.listing,
        "document_pick": ui.docs.pick,
        "document_confirm": ui.docs.confirm,
        "document_status": ui.docs.status,
        "files": ui.docs.files,
        "upload_status": ui.docs.upload_status,
    }
    out: list[Any] = []
    for f in fields(View):
        part = by_name[f.name]
        out.extend(part if isinstance(part, list) else [part])
    return out
