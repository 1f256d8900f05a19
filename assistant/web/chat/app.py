"""The Gradio chat: streamed answers with citation chips, a sources panel, uploads,
saved conversations and feedback.

This module wires the chat together: ``layout`` and ``panels`` place the
components, ``handlers``, ``conversations`` and ``feedback`` say what happens
on each action, and here each event is tied to its handler. Every handler
returns a ``View``, so every event has the same outputs (``view_components``).
Clicking a chip or a source opens the full document at the cited span; that
viewer, the copy buttons and the sidebar's phone behaviour live in
``static/chat.js``, which reads the JSON API. Two programmatic endpoints
(``/ask``, ``/chat``) serve ``gradio_client`` through the same answering
service as the chat; they do not save conversations.
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
from assistant.web.chat.view import view_components
from assistant.web.service import AnswerService

STATIC = Path(__file__).resolve().parent / "static"


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
        # A lambda on purpose: Gradio numbers unnamed endpoints (lambda_N) in order, and the
        # document list's load event after it is a public one (/lambda_5) that must keep its name.
        # Then the sidebar, and the conversation this browser had open (after the suggestions,
        # which an open conversation's follow-ups replace).
        demo.load(lambda: handlers.opening_suggestions(), None, [layout.sugg_title, *layout.suggestions],
                  api_visibility="private").then(
            handlers.conversations.restore, layout.open_id, view_components(layout), api_visibility="private",
            show_progress="hidden",
        )
        _register_api(service)
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
    ui.clear.click(handlers.clear, None, **quick)
    ui.chatbot.clear(handlers.clear, None, **quick)  # the chat's own trash icon
    ui.generator.change(handlers.service.prepare, ui.generator, None, api_visibility="private", queue=False)
    ui.upload.click(
        handlers.upload, ui.files, [ui.upload_status, ui.documents, ui.files], api_visibility="private",
        show_progress_on=ui.upload_status,
    )
    _wire_conversations(ui, handlers, quick)


def _wire_conversations(ui: ChatLayout, handlers: ChatHandlers, quick: dict[str, Any]) -> None:
    """The sidebar and the feedback form."""
    panel, form = ui.panel, ui.feedback
    conversations, feedback = handlers.conversations, handlers.feedback
    panel.new.click(conversations.new, None, **quick)
    panel.listing.input(conversations.open, panel.listing, **quick)  # .input: a user's pick, not our updates
    panel.rename.click(conversations.rename, [ui.open_id, panel.title], **quick)
    panel.title.submit(conversations.rename, [ui.open_id, panel.title], **quick)
    panel.delete.click(conversations.ask_delete, None, **quick)
    panel.cancel_delete.click(conversations.keep, None, **quick)
    panel.confirm_delete.click(conversations.delete, ui.open_id, **quick)
    ui.chatbot.like(feedback.rate, [ui.turns, ui.open_id], **quick)
    form.send.click(
        feedback.send, [form.target, ui.turns, ui.open_id, form.comment, form.correction, form.facts], **quick
    )
    form.close.click(feedback.close, None, **quick)


def _register_api(service: AnswerService) -> None:
    """Programmatic endpoints for ``gradio_client``: ``/ask`` (JSON) and ``/chat`` (streamed text)."""

    def ask(question: str, k: int = 0, generator: str = "") -> dict:
        """Answer a question; returns Answer.to_dict()."""
        try:
            return service.ask(question, k=k or None, generator=generator or None).to_dict()
        except AssistantError as exc:
            raise gr.Error(str(exc)) from None

    def chat(
        message: str, history: list[dict[str, str]] | None = None, k: int = 0, generator: str = ""
    ) -> Iterator[str]:
        """Stream the answer text as it is written; the last value is the final text with [n] markers."""
        partial = ""
        try:
            for event in service.stream(message, k=k or None, history=history or [], generator=generator or None):
                if isinstance(event, Answer):
                    yield event.text
                else:
                    partial += event
                    yield partial
        except AssistantError as exc:
            raise gr.Error(str(exc)) from None

    gr.api(ask, api_name="ask")
    gr.api(chat, api_name="chat")
