"""The conversation sidebar and the feedback form: components only, like ``layout``.

The sidebar lists the owner's saved conversations (a radio list, most recent
first) with what can be done to the open one: rename, export, delete (asked
twice, since it cannot be undone). The feedback form opens under the chat
when an answer's thumb is clicked. Their ``elem_id``s are what the CSS and the
browser tests find.
"""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

#: The sidebar's width on a desktop; on a phone Gradio shows it full-screen over the chat.
SIDEBAR_WIDTH = 272


@dataclass
class ConversationPanel:
    """The sidebar's components."""

    new: gr.Button
    listing: gr.Radio
    empty: gr.HTML
    tools: gr.Column  # shown while a conversation is open
    title: gr.Textbox
    rename: gr.Button
    export_md: gr.DownloadButton
    export_json: gr.DownloadButton
    delete: gr.Button
    confirm: gr.Column  # "delete for good?", shown after Delete
    confirm_delete: gr.Button
    cancel_delete: gr.Button
    status: gr.HTML


@dataclass
class FeedbackForm:
    """The form that adds a comment, and for a thumbs-down a correction, to a rating."""

    form: gr.Column
    target: gr.State  # {"pos": answer number in the chat, "rating": "up" | "down"}
    head: gr.HTML
    comment: gr.Textbox
    correction: gr.Textbox
    facts: gr.Textbox
    send: gr.Button
    close: gr.Button
    status: gr.HTML  # outside the form, so a confirmation stays once the form closes


def conversation_panel() -> ConversationPanel:
    """The sidebar; call inside a ``gr.Blocks`` context."""
    with gr.Sidebar(open=True, width=SIDEBAR_WIDTH, elem_id="conversations"):
        gr.HTML('<h2 class="panel-title">Conversations</h2>')
        new = gr.Button("+ New conversation", size="sm", elem_id="new-conversation")
        empty = gr.HTML('<div class="conv-empty">Your questions and answers are saved here.</div>',
                        elem_id="conversations-empty")
        listing = gr.Radio(
            choices=[], value=None, show_label=False, container=False, elem_id="conversation-list"
        )
        with gr.Column(visible=False, elem_id="conversation-tools") as tools:
            gr.HTML('<div class="tools-title">This conversation</div>')
            title = gr.Textbox(show_label=False, placeholder="Title", max_lines=1, container=False,
                               elem_id="conversation-title")
            with gr.Row(elem_id="rename-row"):
                rename = gr.Button("Rename", size="sm", elem_id="rename-conversation")
                delete = gr.Button("Delete", size="sm", elem_id="delete-conversation")
            with gr.Column(visible=False, elem_id="delete-confirm") as confirm:
                gr.HTML('<div class="confirm-text">Delete this conversation and its feedback? '
                        "This cannot be undone.</div>")
                with gr.Row():
                    confirm_delete = gr.Button("Delete", size="sm", variant="stop", elem_id="confirm-delete")
                    cancel_delete = gr.Button("Keep it", size="sm", elem_id="cancel-delete")
            gr.HTML('<div class="tools-title">Download</div>')
            with gr.Row(elem_id="export-row"):
                export_md = gr.DownloadButton("Markdown", size="sm", elem_id="export-md")
                export_json = gr.DownloadButton("JSON", size="sm", elem_id="export-json")
        status = gr.HTML("", elem_id="conversation-status")
    return ConversationPanel(
        new=new, listing=listing, empty=empty, tools=tools, title=title, rename=rename, export_md=export_md,
        export_json=export_json, delete=delete, confirm=confirm, confirm_delete=confirm_delete,
        cancel_delete=cancel_delete, status=status,
    )


def feedback_form() -> FeedbackForm:
    """The feedback form (hidden until a thumb is clicked); call inside a ``gr.Blocks`` context."""
    target = gr.State(None)
    with gr.Column(visible=False, elem_id="feedback-form") as form:
        head = gr.HTML("", elem_id="feedback-head")
        comment = gr.Textbox(label="Comment (optional)", lines=2, max_lines=6, elem_id="feedback-comment")
        correction = gr.Textbox(
            label="The right answer, in your words", lines=2, max_lines=8, visible=False,
            elem_id="feedback-correction",
        )
        facts = gr.Textbox(
            label="Facts it must contain (optional)", info="Separate them with commas or new lines.",
            lines=1, max_lines=6, visible=False, elem_id="feedback-facts",
        )
        with gr.Row(elem_id="feedback-actions"):
            send = gr.Button("Save feedback", variant="primary", size="sm", scale=0, min_width=130,
                             elem_id="feedback-send")
            close = gr.Button("Close", size="sm", scale=0, min_width=80, elem_id="feedback-close")
    status = gr.HTML("", elem_id="feedback-status")
    return FeedbackForm(form=form, target=target, head=head, comment=comment, correction=correction, facts=facts,
                        send=send, close=close, status=status)
