"""The Gradio chat: streamed answers with citation chips, a sources panel and uploads.

Layout: the conversation, suggested questions and the composer on the left;
the sources of the latest answer on the right (below on a phone). Clicking a
chip or a source opens the full document at the cited span; that viewer and
the copy buttons live in ``static/chat.js`` and read the JSON API.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gradio as gr

from assistant.answer import Answer
from assistant.assistant import Assistant
from assistant.errors import AssistantError
from assistant.settings import LOCAL_GENERATORS
from assistant.web.chat.render import (
    render_answer,
    render_documents,
    render_error,
    render_sources_panel,
    render_streaming,
    render_upload_report,
    render_user,
)
from assistant.web.service import UPLOAD_SUFFIXES, AnswerService, human_bytes, ingest_uploads

log = logging.getLogger(__name__)
STATIC = Path(__file__).resolve().parent / "static"
SUGGESTION_SLOTS = 4
STREAM_INTERVAL_S = 0.05
HEADER = (
    '<header class="app-header"><h1>Ask the documents</h1>'
    "<p>Every sentence of an answer cites the exact source text. Click a number to read it in context.</p></header>"
)


def ui_assets() -> dict[str, str]:
    """CSS and the browser script, for ``mount_gradio_app``."""
    js = (STATIC / "chat.js").read_text(encoding="utf-8")
    return {"css": (STATIC / "chat.css").read_text(encoding="utf-8"), "js": f"() => {{\n{js}\n}}"}


def _suggestion_updates(questions: list[str], title: str) -> list[Any]:
    questions = questions[:SUGGESTION_SLOTS]
    head = gr.update(value=f'<div class="sugg-title">{title}</div>' if questions else "", visible=bool(questions))
    buttons = [
        gr.update(value=questions[i], visible=True) if i < len(questions) else gr.update(value="", visible=False)
        for i in range(SUGGESTION_SLOTS)
    ]
    return [head, *buttons]


def build_ui(assistant: Assistant, service: AnswerService | None = None) -> gr.Blocks:
    """The chat as a ``gr.Blocks``; mount it with ``ui_assets()`` for its CSS and script."""
    service = service or AnswerService(assistant)
    settings = assistant.settings
    default_generator = settings.llm if settings.llm in LOCAL_GENERATORS else None

    def go_deeper() -> list[str]:
        try:
            return assistant.suggested_questions()
        except AssistantError:
            return []

    def respond(message: str, transcript: list, history: list, k: float, generator: str | None):
        # Outputs: chatbot, history, sources, textbox, suggestion title + buttons, transcript.
        def out(chat=None, hist=None, src=None, box=None, sugg=None):
            skip = gr.skip()
            return (
                skip if chat is None else chat,
                skip if hist is None else hist,
                skip if src is None else src,
                skip if box is None else box,
                *(sugg if sugg is not None else (skip,) * (SUGGESTION_SLOTS + 1)),
                skip if chat is None else list(chat),
            )

        message = (message or "").strip()
        if not message:
            yield out()
            return
        transcript = [*transcript, {"role": "user", "content": render_user(message)}]
        transcript.append({"role": "assistant", "content": render_streaming("")})
        hidden = _suggestion_updates([], "")
        yield out(transcript, box="", sugg=hidden)
        partial, answer, shown_at = "", None, 0.0
        try:
            for event in service.stream(message, k=int(k) if k else None, history=history, generator=generator):
                if isinstance(event, Answer):
                    answer = event
                else:
                    partial += event
                    now = time.monotonic()
                    if now - shown_at >= STREAM_INTERVAL_S:  # the first token at once, then ~20 updates/s
                        shown_at = now
                        transcript[-1] = {"role": "assistant", "content": render_streaming(partial)}
                        yield out(transcript)
        except AssistantError as exc:
            transcript[-1] = {"role": "assistant", "content": render_error(str(exc))}
            yield out(transcript, sugg=_suggestion_updates(go_deeper(), "Go deeper"))
            return
        except Exception as exc:  # a bug must not leave the chat spinning
            log.exception("answering failed")
            transcript[-1] = {
                "role": "assistant",
                "content": render_error(f"Something went wrong: {type(exc).__name__}: {exc}"),
            }
            yield out(transcript)
            return
        assert answer is not None
        transcript[-1] = {"role": "assistant", "content": render_answer(answer)}
        history = [*history, {"role": "user", "content": message}, {"role": "assistant", "content": answer.text}]
        texts = {}
        for source in {c.source for c in answer.citations}:
            with contextlib.suppress(AssistantError):
                texts[source] = assistant.document_text(source)
        if answer.follow_ups:
            follow = _suggestion_updates(answer.follow_ups, "Follow-up questions")
        else:  # e.g. after an abstention: offer the corpus's own questions again
            follow = _suggestion_updates(go_deeper(), "Go deeper")
        yield out(transcript, history, render_sources_panel(answer, texts), sugg=follow)

    def clear():
        return [], [], [], render_sources_panel(None, {}), "", *_suggestion_updates(go_deeper(), "Go deeper")

    def upload(files: list[str] | None, progress=gr.Progress()):  # noqa: B008 - Gradio's idiom
        if not files:
            return '<div class="upload-msg warn">Choose one or more documents to upload first.</div>', gr.skip(), gr.skip()
        pairs = [(Path(f).name, Path(f)) for f in files]
        try:
            report = ingest_uploads(assistant, pairs, progress=lambda frac, desc: progress(frac, desc=desc))
        except AssistantError as exc:
            return render_upload_report(None, str(exc)), gr.skip(), None
        return render_upload_report(report), render_documents(assistant), None

    with gr.Blocks(title="Ask the documents", fill_width=True, analytics_enabled=False) as demo:
        gr.HTML(HEADER)
        transcript = gr.State([])
        history = gr.State([])
        with gr.Row(equal_height=False, elem_id="main-row"):
            with gr.Column(scale=3, min_width=320, elem_id="chat-col"):
                chatbot = gr.Chatbot(
                    elem_id="chat",
                    show_label=False,
                    height=None,
                    min_height=220,
                    max_height="62vh",
                    latex_delimiters=[],
                    buttons=[],
                    feedback_options=None,
                    render_markdown=True,
                    sanitize_html=True,
                    placeholder="<div class='chat-empty'>Ask about the documents, or start with a question below.</div>",
                )
                sugg_title = gr.HTML("", elem_id="sugg-title", visible=False)
                with gr.Row(elem_id="suggestions"):
                    sugg = [
                        gr.Button("", visible=False, size="sm", elem_classes=["suggestion"], elem_id=f"suggestion-{i}")
                        for i in range(SUGGESTION_SLOTS)
                    ]
                with gr.Row(elem_id="composer"):
                    msg = gr.Textbox(
                        show_label=False,
                        placeholder="Ask a question…",
                        lines=1,
                        max_lines=4,
                        scale=6,
                        elem_id="question",
                        autofocus=True,
                    )
                    send = gr.Button("Ask", variant="primary", scale=0, min_width=72, elem_id="send")
                with gr.Row(elem_id="chat-tools"):
                    clear_btn = gr.Button("Clear chat", size="sm", scale=0, min_width=100, elem_id="clear")
                with gr.Accordion("Settings", open=False, elem_id="settings"):
                    k = gr.Slider(1, 20, value=settings.k, step=1, label="Passages retrieved (k)", elem_id="k")
                    generator = gr.Radio(
                        list(LOCAL_GENERATORS),
                        value=default_generator,
                        label="Generator",
                        info="llamacpp: the local model writes the answer · extractive: quotes the sources",
                        elem_id="generator",
                    )
                with gr.Accordion("Add documents", open=False, elem_id="upload-panel"):
                    files = gr.File(
                        file_count="multiple",
                        file_types=list(UPLOAD_SUFFIXES),
                        label=f"{', '.join(UPLOAD_SUFFIXES)} · up to {human_bytes(settings.max_file_bytes)} each",
                        elem_id="upload",
                    )
                    upload_btn = gr.Button("Add to index", elem_id="upload-btn")
                    upload_status = gr.HTML("", elem_id="upload-status")
                    docs_list = gr.HTML(lambda: render_documents(assistant), elem_id="documents")
            with gr.Column(scale=2, min_width=280, elem_id="sources-col"):
                gr.HTML('<h2 class="panel-title">Sources</h2>')
                sources = gr.HTML(render_sources_panel(None, {}), elem_id="sources")

        outputs = [chatbot, history, sources, msg, sugg_title, *sugg, transcript]
        inputs = [msg, transcript, history, k, generator]
        msg.submit(respond, inputs, outputs, api_visibility="private")
        send.click(respond, inputs, outputs, api_visibility="private")
        for button in sugg:
            button.click(lambda q: q, button, msg, api_visibility="private", queue=False).then(
                respond, inputs, outputs, api_visibility="private"
            )
        cleared = [chatbot, transcript, history, sources, msg, sugg_title, *sugg]
        clear_btn.click(clear, None, cleared, api_visibility="private")
        chatbot.clear(clear, None, cleared, api_visibility="private")  # the chat's own trash icon
        generator.change(service.prepare, generator, None, api_visibility="private", queue=False)
        upload_btn.click(
            upload, files, [upload_status, docs_list, files], api_visibility="private", show_progress_on=upload_status
        )
        demo.load(lambda: _suggestion_updates(go_deeper(), "Go deeper"), None, [sugg_title, *sugg],
                  api_visibility="private")

        # Programmatic endpoints for gradio_client (same answering path as the chat).
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
    return demo
