"""Where everything sits in the chat: the components, and nothing they do.

The saved conversations in a sidebar (``panels``); in the middle the
collection bar (which collection questions go to), the conversation, its
feedback form, suggested questions and the composer, with the settings and
the documents panel folded below; the sources of the latest answer on the
right (below on a phone). The ``elem_id``s are what ``static/chat.css``,
``static/chat.js`` and the browser tests find, so they are part of the page's
contract. What happens on a click is in ``handlers``; which event calls which
handler is in ``app``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr

from assistant.assistant import Assistant
from assistant.settings import LOCAL_GENERATORS
from assistant.web.chat.library import collection_choices
from assistant.web.chat.panels import (
    CollectionBar,
    ConversationPanel,
    DocumentPanel,
    FeedbackForm,
    collection_bar,
    conversation_panel,
    document_panel,
    feedback_form,
)
from assistant.web.chat.render import render_sources_panel

#: Suggested questions shown at once (the buttons exist up front and are hidden when unused).
SUGGESTION_SLOTS = 4
#: Where the browser keeps the open conversation's id, so a reload returns to it.
OPEN_CONVERSATION_KEY = "assistant-open-conversation"
HEADER = (
    '<header class="app-header"><h1>Ask the documents</h1>'
    "<p>Every sentence of an answer cites the exact source text. Click a number to read it in context.</p></header>"
)


@dataclass
class ChatLayout:
    """The components the handlers read and write."""

    transcript: gr.State  # the chat as shown (rendered HTML turns)
    turns: gr.State  # one dict per answer shown: its saved turn id, question, text and rating
    open_id: gr.BrowserState  # the open conversation's id, kept in the browser across reloads
    panel: ConversationPanel
    feedback: FeedbackForm
    bar: CollectionBar
    docs: DocumentPanel
    chatbot: gr.Chatbot
    sugg_title: gr.HTML
    suggestions: list[gr.Button]
    question: gr.Textbox
    send: gr.Button
    clear: gr.Button
    k: gr.Slider
    generator: gr.Radio
    sources: gr.HTML

    def answer_inputs(self) -> list[Any]:
        """What ``ChatHandlers.respond`` reads, in its argument order."""
        return [self.question, self.transcript, self.turns, self.open_id, self.k, self.generator,
                self.bar.collection]


def build_layout(assistant: Assistant) -> ChatLayout:
    """Create the chat's components; call inside a ``gr.Blocks`` context."""
    panel = conversation_panel()
    gr.HTML(HEADER)
    transcript, turns = gr.State([]), gr.State([])
    # The id is not a secret (every read checks the owner), so a fixed key lets it
    # survive a server restart; Gradio's default is a random key per start.
    open_id = gr.BrowserState(None, storage_key=OPEN_CONVERSATION_KEY, secret=OPEN_CONVERSATION_KEY)
    with gr.Row(equal_height=False, elem_id="main-row"):
        with gr.Column(scale=3, min_width=320, elem_id="chat-col"):
            # The choices are read again on every page load (``ConversationHandlers.restore``).
            bar = collection_bar(collection_choices(assistant), assistant.settings.collection)
            parts = _conversation()
            parts.update(_settings_panel(assistant))
            docs = document_panel(assistant.settings.max_file_bytes)
        with gr.Column(scale=2, min_width=280, elem_id="sources-col"):
            gr.HTML('<h2 class="panel-title">Sources</h2>')
            parts["sources"] = gr.HTML(render_sources_panel(None, {}), elem_id="sources")
    return ChatLayout(transcript=transcript, turns=turns, open_id=open_id, panel=panel, bar=bar, docs=docs, **parts)


def _conversation() -> dict[str, Any]:
    chatbot = gr.Chatbot(
        elem_id="chat",
        show_label=False,
        height=None,
        min_height=220,
        max_height="62vh",
        latex_delimiters=[],
        buttons=[],
        feedback_options=("Like", "Dislike"),  # thumbs on every answer; ``feedback`` stores them
        render_markdown=True,
        sanitize_html=True,
        placeholder="<div class='chat-empty'>Ask about the documents, or start with a question below.</div>",
    )
    form = feedback_form()
    sugg_title = gr.HTML("", elem_id="sugg-title", visible=False)
    with gr.Row(elem_id="suggestions"):
        suggestions = [
            gr.Button("", visible=False, size="sm", elem_classes=["suggestion"], elem_id=f"suggestion-{i}")
            for i in range(SUGGESTION_SLOTS)
        ]
    with gr.Row(elem_id="composer"):
        question = gr.Textbox(
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
        # Starts a new conversation: the one on screen stays saved in the sidebar.
        clear = gr.Button("New conversation", size="sm", scale=0, min_width=150, elem_id="clear")
    return {"chatbot": chatbot, "feedback": form, "sugg_title": sugg_title, "suggestions": suggestions, "question": question,
            "send": send, "clear": clear}


def _settings_panel(assistant: Assistant) -> dict[str, Any]:
    settings = assistant.settings
    with gr.Accordion("Settings", open=False, elem_id="settings"):
        k = gr.Slider(1, 20, value=settings.k, step=1, label="Passages retrieved (k)", elem_id="k")
        generator = gr.Radio(
            list(LOCAL_GENERATORS),
            # A server configured with another backend (openai, ollama) starts with none picked.
            value=settings.llm if settings.llm in LOCAL_GENERATORS else None,
            label="Generator",
            info="llamacpp: the local model writes the answer · extractive: quotes the sources",
            elem_id="generator",
        )
    return {"k": k, "generator": generator}

