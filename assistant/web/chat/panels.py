"""The conversation sidebar, the feedback form, the collection bar and the documents panel:
components only, like ``layout``.

The sidebar lists the owner's saved conversations (a radio list, most recent
first) with what can be done to the open one: rename, export, delete (asked
twice, since it cannot be undone). The feedback form opens under the chat
when an answer's thumb is clicked. The collection bar above the chat picks
the collection questions go to and creates one; the documents panel below it
adds files to that collection and opens, re-indexes or deletes (asked twice)
one of its documents. Their ``elem_id``s are what the CSS, ``static/chat.js``
and the browser tests find.
"""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from assistant.web.uploads import UPLOAD_SUFFIXES, human_bytes

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


@dataclass
class CollectionBar:
    """The collection questions go to, and a box to create another."""

    collection: gr.Dropdown  # value: a collection name; choices labelled with document counts
    new_name: gr.Textbox
    create: gr.Button
    status: gr.HTML


@dataclass
class DocumentPanel:
    """The selected collection's documents: add files, list them, act on one."""

    files: gr.File
    upload: gr.Button
    upload_status: gr.HTML
    listing: gr.HTML  # each title opens the document in the viewer (static/chat.js)
    pick: gr.Dropdown  # the document the buttons act on
    open: gr.Button  # browser-side only: the viewer fetches /api/documents/{id}
    reindex: gr.Button
    delete: gr.Button
    confirm: gr.Column  # "delete for good?", shown after Delete
    confirm_delete: gr.Button
    cancel_delete: gr.Button
    status: gr.HTML


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


def collection_bar(choices: list[tuple[str, str]], value: str) -> CollectionBar:
    """The selector and the create box, in one row; call inside a ``gr.Blocks`` context."""
    with gr.Row(equal_height=True, elem_id="collection-row"):
        collection = gr.Dropdown(
            choices=choices, value=value, label="Collection", filterable=False, scale=3, min_width=200,
            elem_id="collection",
        )
        new_name = gr.Textbox(label="New collection", placeholder="e.g. contracts", max_lines=1, scale=2,
                              min_width=150, elem_id="new-collection")
        create = gr.Button("Create", size="sm", scale=0, min_width=80, elem_id="create-collection")
    status = gr.HTML("", elem_id="collection-status")
    return CollectionBar(collection=collection, new_name=new_name, create=create, status=status)


def document_panel(max_file_bytes: int) -> DocumentPanel:
    """The documents accordion (folded); call inside a ``gr.Blocks`` context."""
    with gr.Accordion("Documents", open=False, elem_id="upload-panel"):
        files = gr.File(
            file_count="multiple",
            file_types=list(UPLOAD_SUFFIXES),
            label=f"{', '.join(UPLOAD_SUFFIXES)} · up to {human_bytes(max_file_bytes)} each",
            elem_id="upload",
        )
        upload = gr.Button("Add to collection", elem_id="upload-btn")
        upload_status = gr.HTML("", elem_id="upload-status")
        listing = gr.HTML("", elem_id="documents")
        with gr.Row(equal_height=True, elem_id="document-tools"):
            pick = gr.Dropdown(choices=[], value=None, label="Document", filterable=True, scale=3, min_width=200,
                               elem_id="document-pick")
            open_ = gr.Button("Open", size="sm", scale=0, min_width=70, elem_id="document-open")
            reindex = gr.Button("Re-index", size="sm", scale=0, min_width=90, elem_id="document-reindex")
            delete = gr.Button("Delete", size="sm", scale=0, min_width=76, elem_id="document-delete")
        with gr.Column(visible=False, elem_id="document-confirm") as confirm:
            gr.HTML('<div class="confirm-text">Delete this document from the collection? Its chunks and text '
                    "go; its file is kept, so it can be added again.</div>")
            with gr.Row():
                confirm_delete = gr.Button("Delete", size="sm", variant="stop", elem_id="document-confirm-delete")
                cancel_delete = gr.Button("Keep it", size="sm", elem_id="document-cancel-delete")
        status = gr.HTML("", elem_id="document-status")
    return DocumentPanel(
        files=files, upload=upload, upload_status=upload_status, listing=listing, pick=pick, open=open_,
        reindex=reindex, delete=delete, confirm=confirm, confirm_delete=confirm_delete, cancel_delete=cancel_delete,
        status=status,
    )
