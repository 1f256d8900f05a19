"""The Gradio chat: streamed answers with citation chips, a sources panel, a collection
selector, document management, saved conversations and feedback.

This module wires the chat together: ``layout`` and ``panels`` place the
components, ``handlers``, ``conversations``, ``feedback``, ``collections`` and
``documents`` say what happens on each action, and here each event is tied to
its handler. Every handler returns a ``View``, so every event has the same
outputs (``view_components``). Clicking a chip, a source or a document's title
opens the full document (at the cited span); that viewer, the copy buttons and
the sidebar's phone behaviour live in ``static/chat.js``, which reads the JSON
API. Two programmatic endpoints (``/ask``, ``/chat``) serve ``gradio_client``
through the same answering service as the chat; they do not save conversations.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gradio as gr

from assistant.answer import Answer
from assistant.assistant import Assistant
from assistant.errors import AssistantError
from assistant.web.chat.handlers import ChatHandlers
from assistant.web.chat.layout import ChatLayout, build_layout
from assistant.web.chat.library import assistant_for
from assistant.web.chat.render import render_documents
from assistant.web.chat.view import view_components
from assistant.web.service import AnswerService

STATIC = Path(__file__).resolve().parent / "static"
#: Browser-side steps (``static/chat.js`` defines ``window.__assistantDocs``).
OPEN_DOCUMENT_JS = "(doc, collection) => { if (doc && window.__assistantDocs) window.__assistantDocs.open(doc, collection); }"
FORGET_DOCUMENTS_JS = "() => { if (window.__assistantDocs) window.__assistantDocs.forget(); }"


def ui_assets() -> dict[str, str]:
    """CSS and the browser script, for ``mount_gradio_app``."""
    js = (STATIC / "chat.js").read_text(encoding="utf-8")
    return {"css": (STATIC / "chat.css").read_text(encoding="utf-8"), "js": f"() => {{\n{js}\n}}"}


def build_ui(assistant: Assistant, service: AnswerService | None = None) -> gr.Blocks:
    """The chat as a ``gr.Blocks``; mount it with ``ui_assets()`` for its CSS and script.

    Args:
        assistant: what the chat reads documents and suggestions from.
        service: the server's answering service; a new one when None (a chat on its own).
    """
    service = service or AnswerService(assistant)
    handlers = ChatHandlers(assistant, service)
    with gr.Blocks(title="Ask the documents", fill_width=True, analytics_enabled=False) as demo:
        layout = build_layout(assistant)
        _wire(layout, handlers)
        # The suggestions of the picked collection; then the sidebar, the collections and the
        # picked one's documents, and the conversation this browser had open with its
        # collection (after the suggestions, which an open conversation's follow-ups replace).
        demo.load(handlers.opening_suggestions, layout.bar.collection, [layout.sugg_title, *layout.suggestions],
                  api_visibility="private").then(
            handlers.conversations.restore, [layout.open_id, layout.bar.collection], view_components(layout),
            api_visibility="private", show_progress="hidden",
        )
        _register_api(assistant, service)
    return demo


def _wire(ui: ChatLayout, handlers: ChatHandlers) -> None:
    """Tie each user action to its handler (the browser's own endpoints, kept private)."""
    view = view_components(ui)
    inputs = ui.answer_inputs()
    # The spinner only on the chat and the sources: the sidebar stays usable while answering.
    answering: dict[str, Any] = {
        "outputs": view, "api_visibility": "private", "show_progress_on": [ui.chatbot, ui.sources],
    }
    ui.question.submit(handlers.respond, inputs, **answering)
    ui.send.click(handlers.respond, inputs, **answering)
    for button in ui.suggestions:
        # Put the suggestion in the box at once (no queue), then answer it like a typed question.
        button.click(lambda q: q, button, ui.question, api_visibility="private", queue=False).then(
            handlers.respond, inputs, **answering
        )
    quick: dict[str, Any] = {"outputs": view, "api_visibility": "private", "show_progress": "hidden"}
    collection = ui.bar.collection
    ui.clear.click(handlers.clear, collection, **quick)
    ui.chatbot.clear(handlers.clear, collection, **quick)  # the chat's own trash icon
    ui.generator.change(handlers.service.prepare, ui.generator, None, api_visibility="private", queue=False)
    _wire_conversations(ui, handlers, quick)
    _wire_collections(ui, handlers, quick)


def _wire_collections(ui: ChatLayout, handlers: ChatHandlers, quick: dict[str, Any]) -> None:
    """The collection bar and the documents panel."""
    bar, docs = ui.bar, ui.docs
    collections, documents = handlers.collections, handlers.documents
    # .select, not .input: both fire on a user's pick only (opening a conversation sets the value too),
    # but Gradio 6's dropdown sends .input twice per pick, which would run the switch twice.
    bar.collection.select(collections.switch, bar.collection, **quick)
    bar.create.click(collections.create, [bar.new_name, bar.collection], **quick)
    bar.new_name.submit(collections.create, [bar.new_name, bar.collection], **quick)
    # A document's text may change (re-index, upload, delete): the viewer reads it again after each.
    forget: dict[str, Any] = {"js": FORGET_DOCUMENTS_JS, "api_visibility": "private", "queue": False}
    docs.upload.click(
        documents.upload, [docs.files, bar.collection], outputs=view_components(ui), api_visibility="private",
        show_progress_on=docs.upload_status,
    ).then(None, **forget)
    docs.open.click(None, [docs.pick, bar.collection], None, js=OPEN_DOCUMENT_JS, api_visibility="private",
                    queue=False)
    docs.reindex.click(documents.reindex, [docs.pick, bar.collection], outputs=view_components(ui),
                       api_visibility="private", show_progress_on=docs.status).then(None, **forget)
    docs.delete.click(documents.ask_delete, docs.pick, **quick)
    docs.cancel_delete.click(documents.keep, None, **quick)
    docs.confirm_delete.click(documents.delete, [docs.pick, bar.collection], **quick).then(None, **forget)


def _wire_conversations(ui: ChatLayout, handlers: ChatHandlers, quick: dict[str, Any]) -> None:
    """The sidebar and the feedback form."""
    panel, form = ui.panel, ui.feedback
    conversations, feedback = handlers.conversations, handlers.feedback
    collection = ui.bar.collection
    panel.new.click(conversations.new, collection, **quick)
    # .input: a user's pick, not our updates
    panel.listing.input(conversations.open, [panel.listing, collection], **quick)
    panel.rename.click(conversations.rename, [ui.open_id, panel.title], **quick)
    panel.title.submit(conversations.rename, [ui.open_id, panel.title], **quick)
    panel.delete.click(conversations.ask_delete, None, **quick)
    panel.cancel_delete.click(conversations.keep, None, **quick)
    panel.confirm_delete.click(conversations.delete, [ui.open_id, collection], **quick)
    ui.chatbot.like(feedback.rate, [ui.turns, ui.open_id], **quick)
    form.send.click(
        feedback.send, [form.target, ui.turns, ui.open_id, form.comment, form.correction, form.facts], **quick
    )
    form.close.click(feedback.close, None, **quick)


def _register_api(assistant: Assistant, service: AnswerService) -> None:
    """Programmatic endpoints for ``gradio_client``: ``/ask`` (JSON) and ``/chat`` (streamed text),
    each with an optional collection (empty: the server's), and the document list."""

    def ask(question: str, k: int = 0, generator: str = "", collection: str = "") -> dict:
        """Answer a question; returns Answer.to_dict()."""
        try:
            return service.ask(question, k=k or None, generator=generator or None,
                               collection=collection or None).to_dict()
        except AssistantError as exc:
            raise gr.Error(str(exc)) from None

    def chat(
        message: str, history: list[dict[str, str]] | None = None, k: int = 0, generator: str = "",
        collection: str = "",
    ) -> Iterator[str]:
        """Stream the answer text as it is written; the last value is the final text with [n] markers."""
        partial = ""
        try:
            for event in service.stream(message, k=k or None, history=history or [], generator=generator or None,
                                        collection=collection or None):
                if isinstance(event, Answer):
                    yield event.text
                else:
                    partial += event
                    yield partial
        except AssistantError as exc:
            raise gr.Error(str(exc)) from None

    def documents(collection: str = "") -> str:
        """The document list (HTML) of a collection (empty: the server's)."""
        try:
            target = assistant_for(assistant, collection)
            return render_documents(target.documents(), target.settings.collection)
        except AssistantError as exc:
            raise gr.Error(str(exc)) from None

    gr.api(ask, api_name="ask")
    gr.api(chat, api_name="chat")
    # The name the document list's load event had (/lambda_5) before the list followed the
    # picked collection; kept so gradio_client callers of it keep working.
    gr.api(documents, api_name="lambda_5")
