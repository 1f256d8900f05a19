"""The conversation sidebar's handlers: restore on load, open, new, rename, export, delete.

Every read and write goes to ``assistant.conversations`` with the owner of
the request (``session.owner_of``), so a browser only ever lists and opens
its own conversations, and an id planted in the browser's storage that is not
the owner's simply opens nothing. The open conversation's id lives in the
browser (``layout.OPEN_CONVERSATION_KEY``): that is how a reload returns to it.
Opening a conversation also picks the collection its answers came from, so
a follow-up is asked where the first question was.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import gradio as gr

from assistant.assistant import Assistant
from assistant.conversations.records import ConversationRecord
from assistant.errors import AssistantError
from assistant.web.chat.library import showing
from assistant.web.chat.render import (
    collection_of,
    render_notice,
    render_sources_for,
    render_sources_panel,
)
from assistant.web.chat.saved import chat_of, chat_update, forget_exports, write_exports
from assistant.web.chat.session import owner_of
from assistant.web.chat.view import View, suggestion_updates

log = logging.getLogger(__name__)
UNTITLED = "Untitled conversation"


def form_closed() -> dict[str, Any]:
    """The View fields that put the feedback form away (a new chat has no answer to rate)."""
    return {"form": gr.update(visible=False), "target": None, "feedback_status": ""}


class ConversationHandlers:
    """What the sidebar does, over one assistant's conversation store.

    Args:
        assistant: whose ``conversations`` store and documents to read.
        opening_suggestions: the suggestion updates for an empty chat over a collection (None: the server's).
    """

    def __init__(self, assistant: Assistant, opening_suggestions: Callable[[str | None], list[Any]]) -> None:
        self.assistant = assistant
        self.opening_suggestions = opening_suggestions

    @property
    def store(self):
        return self.assistant.conversations

    def owner(self, request: Any) -> str:
        return owner_of(self.assistant.settings, request)

    # ----- pieces of a View -----------------------------------------------------
    def listing(self, owner: str, open_id: str | None) -> dict[str, Any]:
        """The list of ``owner``'s conversations, most recent first, ``open_id`` selected."""
        try:
            records = self.store.list(owner)
        except AssistantError as exc:
            log.warning("cannot list conversations: %s", exc)
            return {"listing": gr.update(choices=[], value=None),
                    "listing_empty": gr.update(value=render_notice(str(exc), "err"), visible=True)}
        choices = [(r.title or UNTITLED, r.id) for r in records]
        value = open_id if any(r.id == open_id for r in records) else None
        return {"listing": gr.update(choices=choices, value=value), "listing_empty": gr.update(visible=not records)}

    @staticmethod
    def export_fields(conversation: ConversationRecord) -> dict[str, Any]:
        """The export buttons, holding fresh files of ``conversation``."""
        md, js = write_exports(conversation)
        return {"export_md": md, "export_json": js}

    def saved_fields(self, conversation: ConversationRecord) -> dict[str, Any]:
        """The open conversation's tools: its title and fresh export files."""
        return {"tools": gr.update(visible=True), "title": conversation.title, "confirm": gr.update(visible=False),
                **self.export_fields(conversation)}

    def opened(
        self, conversation: ConversationRecord, owner: str, collection: str | None = None, status: str = ""
    ) -> View:
        """The page with ``conversation`` open: its turns rendered like live answers, its tools shown,
        and the collection its last answer came from picked (else ``collection``, the one picked now)."""
        messages, turns, last = chat_of(conversation)
        wanted = (collection_of(last) if last is not None else None) or collection
        shown_fields = showing(self.assistant, wanted)
        shown = shown_fields["collection"]["value"]
        if last is None:
            sources, suggestions = render_sources_panel(None, {}), self.opening_suggestions(shown)
        else:
            sources = render_sources_for(self.assistant, last)
            suggestions = (suggestion_updates(last.follow_ups, "Follow-up questions") if last.follow_ups
                           else self.opening_suggestions(shown))
        if wanted and shown != wanted:
            note = render_notice(f"This conversation asked \u201c{wanted}\u201d, which no longer exists; "
                                 f"questions now go to \u201c{shown}\u201d.", "warn")
        elif collection and shown != collection:
            note = render_notice(f"This conversation asks the \u201c{shown}\u201d collection.")
        else:
            note = ""
        return View(
            chatbot=chat_update(messages, turns), transcript=messages, turns=turns, sources=sources,
            suggestions=suggestions, open_id=conversation.id, panel_status=status, collection_status=note,
            **self.listing(owner, conversation.id), **self.saved_fields(conversation), **form_closed(),
            **shown_fields,
        )

    def closed(self, status: str = "", collection: str | None = None) -> View:
        """An empty chat with no conversation open (the next question starts one, in ``collection``)."""
        return View(
            chatbot=chat_update([], []), transcript=[], turns=[], sources=render_sources_panel(None, {}),
            question="", suggestions=self.opening_suggestions(collection), open_id=None,
            listing=gr.update(value=None), tools=gr.update(visible=False), confirm=gr.update(visible=False),
            panel_status=status, **form_closed(),
        )

    # ----- events -----------------------------------------------------------------
    def restore(self, open_id: str | None, collection: str | None, request: gr.Request) -> tuple[Any, ...]:
        """On page load: the owner's list, the collections and the picked one's documents, and the
        conversation the browser had open if it is still theirs (with its collection)."""
        owner = self.owner(request)
        if open_id:
            try:
                return self.opened(self.store.get(open_id, owner), owner, collection).outputs()
            except AssistantError:
                pass  # deleted meanwhile, another owner's, or not an id: open nothing
        return View(open_id=None, tools=gr.update(visible=False), **self.listing(owner, None),
                    **showing(self.assistant, collection)).outputs()

    def open(self, conversation_id: str | None, collection: str | None, request: gr.Request) -> tuple[Any, ...]:
        """Open the conversation picked in the list."""
        owner = self.owner(request)
        try:
            return self.opened(self.store.get(conversation_id, owner), owner, collection).outputs()
        except AssistantError as exc:
            return replace(self.closed(render_notice(str(exc), "err"), collection),
                           **self.listing(owner, None)).outputs()

    def new(self, collection: str | None = None) -> tuple[Any, ...]:
        """A new, empty chat; it is saved as a conversation when its first question is answered."""
        return self.closed(collection=collection).outputs()

    def rename(self, open_id: str | None, title: str, request: gr.Request) -> tuple[Any, ...]:
        owner = self.owner(request)
        try:
            conversation = self.store.rename(open_id, title, owner)
        except AssistantError as exc:
            return View(panel_status=render_notice(str(exc), "err")).outputs()
        return View(panel_status=render_notice("Renamed."), **self.listing(owner, conversation.id),
                    **self.saved_fields(conversation)).outputs()

    def ask_delete(self) -> tuple[Any, ...]:
        return View(confirm=gr.update(visible=True), panel_status="").outputs()

    def keep(self) -> tuple[Any, ...]:
        return View(confirm=gr.update(visible=False)).outputs()

    def delete(self, open_id: str | None, collection: str | None, request: gr.Request) -> tuple[Any, ...]:
        """Delete the open conversation with its turns and feedback, and show an empty chat."""
        owner = self.owner(request)
        try:
            self.store.delete(open_id, owner)
        except AssistantError as exc:
            return View(confirm=gr.update(visible=False), panel_status=render_notice(str(exc), "err")).outputs()
        forget_exports(str(open_id))
        return replace(self.closed(render_notice("Conversation deleted."), collection),
                       **self.listing(owner, None)).outputs()

    # ----- for the question handler -------------------------------------------------
    def for_question(self, open_id: str | None, owner: str) -> tuple[str | None, bool, str | None]:
        """The conversation a question goes into: ``(id, created now, why not saved)``.

        The open one if it is still the owner's; else a new one. When the store
        cannot be written the question is still answered, unsaved, and the
        reason is shown.
        """
        if open_id:
            try:
                return self.store.check_owned(open_id, owner), False, None
            except AssistantError:
                pass  # deleted in another tab, say: start a new one
        try:
            return self.store.create(owner).id, True, None
        except Exception as exc:  # a broken database must not stop the question being answered
            log.warning("cannot create a conversation: %s", exc)
            return None, False, f"This chat is not being saved: {exc}"

    def discard(self, conversation_id: str, owner: str) -> None:
        """Remove a conversation made for a question that then failed (it would be empty)."""
        try:
            self.store.delete(conversation_id, owner)
        except AssistantError as exc:
            log.warning("cannot remove the empty conversation %s: %s", conversation_id, exc)

    def after_answer(self, conversation_id: str, owner: str) -> dict[str, Any]:
        """The sidebar once an answer is saved: the list (its new title, now on top) and fresh exports."""
        try:
            conversation = self.store.get(conversation_id, owner)
        except AssistantError as exc:
            return {"panel_status": render_notice(str(exc), "err")}
        return {**self.listing(owner, conversation_id), **self.saved_fields(conversation)}
