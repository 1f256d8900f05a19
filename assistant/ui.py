"""The Gradio chat: streamed answers with numbered citations and their sources."""

from __future__ import annotations

import html

import gradio as gr

from .assistant import Assistant
from .errors import AssistantError
from .types import Answer


def render_sources(answer: Answer) -> str:
    """Markdown list of cited spans; every piece of source text is HTML-escaped."""
    if answer.abstained:
        return ""
    lines = ["", "**Sources**"]
    for c in answer.citations:
        lines.append(
            f"- [{c.id}] *{html.escape(c.title)}* — {html.escape(c.section)}: "
            f"“{html.escape(c.snippet)}”"
        )
    return "\n".join(lines)


def build_ui(assistant: Assistant) -> gr.Blocks:
    def respond(message: str, history: list):
        partial = ""
        try:
            for event in assistant.stream(message, history=history):
                if isinstance(event, Answer):
                    yield html.escape(event.text) + "\n" + render_sources(event)
                else:
                    partial += event
                    yield html.escape(partial)
        except AssistantError as exc:
            yield f"⚠️ {html.escape(str(exc))}"

    try:
        examples = assistant.suggested_questions()[:3] or None
    except AssistantError:
        examples = None
    return gr.ChatInterface(
        respond,
        title="Ask the documents",
        description="Every sentence is backed by a numbered citation to the exact source text.",
        examples=examples,
    )
