"""What the chat does when the user acts: ask (streamed), start over, suggest questions.

Answers go through the server's ``AnswerService``, so the chat gets the same
validation, lock and generator check as the JSON API, ``/v1`` and MCP. Each
question goes to the collection picked in the selector and into the open
conversation (a new one for the first question), so the service reads the
follow-up's history from the saved turns and saves the answer as the next
one. The sidebar, feedback, collection bar and documents panel have their own
handlers (``conversations``, ``feedback``, ``collections``, ``documents``),
reachable from here. The handlers return ``View``s: only the components they
name change.
"""

from __future__ import annotations

import logging
from collections.abc import Generator, Iterator
from dataclasses import replace
from typing import Any

import gradio as gr

from assistant.answer import Answer
from assistant.assistant import Assistant
from assistant.errors import AssistantError
from assistant.web.chat.collections import CollectionHandlers
from assistant.web.chat.conversations import ConversationHandlers
from assistant.web.chat.documents import DocumentHandlers
from assistant.web.chat.feedback import FeedbackHandlers
from assistant.web.chat.library import assistant_for
from assistant.web.chat.render import (
    render_answer,
    render_error,
    render_notice,
    render_sources_for,
    render_streaming,
    render_user,
)
from assistant.web.chat.saved import chat_update, history_of, turn_ref
from assistant.web.chat.session import owner_of
from assistant.web.chat.view import KEEP, View, suggestion_updates
from assistant.web.service import AnswerEvent, AnswerService

log = logging.getLogger(__name__)
Outputs = tuple[Any, ...]


def _assistant_turn(html: str) -> dict[str, str]:
    return {"role": "assistant", "content": html}


def _streamed(transcript: list, **changes: Any) -> Outputs:
    """The chat showing ``transcript`` (and its own copy in the transcript state), plus ``changes``."""
    return View(chatbot=list(transcript), transcript=list(transcript), **changes).outputs()


class ChatHandlers:
    """The chat's event handlers over one assistant and its answering service."""

    def __init__(self, assistant: Assistant, service: AnswerService) -> None:
        self.assistant = assistant
        self.service = service
        self.conversations = ConversationHandlers(assistant, self.opening_suggestions)
        self.feedback = FeedbackHandlers(assistant, self.conversations)
        self.collections = CollectionHandlers(assistant, self.conversations)
        self.documents = DocumentHandlers(assistant)

    def go_deeper(self, collection: str | None = None) -> list[str]:
        """The collection's own questions (None: the server's); none when it cannot be read."""
        try:
            return assistant_for(self.assistant, collection).suggested_questions()
        except AssistantError:
            return []

    def opening_suggestions(self, collection: str | None = None) -> list[Any]:
        """The suggestion updates for an empty chat over ``collection``."""
        return suggestion_updates(self.go_deeper(collection), "Go deeper")

    def respond(
        self,
        message: str,
        transcript: list,
        turns: list,
        open_id: str | None,
        k: float,
        generator: str | None,
        collection: str | None,
        request: gr.Request,
    ) -> Iterator[Outputs]:
        """Answer ``message`` from ``collection`` in the open conversation: show it, stream its verified
        sentences, then the cited answer, its sources, and the sidebar with the conversation saved."""
        message = (message or "").strip()
        if not message:
            yield View().outputs()
            return
        owner = owner_of(self.assistant.settings, request)
        conversation_id, created, not_saved = self.conversations.for_question(open_id, owner)
        # A saved conversation's history is read from the store; an unsaved chat's from the screen.
        history = None if conversation_id else history_of(turns)
        turns = [*turns, turn_ref(None, message, "")]
        transcript = [*transcript, {"role": "user", "content": render_user(message)},
                      _assistant_turn(render_streaming(""))]
        yield _streamed(
            transcript, turns=turns, question="", suggestions=suggestion_updates([], ""),
            open_id=conversation_id if created else KEEP,  # a reload while answering comes back here
            panel_status=render_notice(not_saved, "warn") if not_saved else KEEP,
        )
        events = self.service.stream(message, k=int(k) if k else None, history=history, generator=generator,
                                     conversation_id=conversation_id, owner=owner, collection=collection or None)
        answer = yield from self._stream_sentences(events, transcript, collection)
        if answer is None:
            if created and conversation_id:  # nothing was saved in it: do not list an empty conversation
                self.conversations.discard(conversation_id, owner)
                yield View(open_id=None).outputs()
            return
        yield self._finished(message, answer, transcript, turns, conversation_id, owner, collection)

    def _stream_sentences(
        self, events: Iterator[AnswerEvent], transcript: list, collection: str | None
    ) -> Generator[Outputs, None, Answer | None]:
        """Show each verified sentence as it comes; the final ``Answer``, or None once an error is shown.

        The chain streams only sentences that passed the support judge, so
        what is on screen while answering is already part of the answer.
        """
        partial, answer = "", None
        try:
            for event in events:
                if isinstance(event, Answer):
                    answer = event
                    continue
                # One update per sentence (a handful per answer), each shown as soon as it is verified.
                partial += event
                transcript[-1] = _assistant_turn(render_streaming(partial))
                yield _streamed(transcript)
        except AssistantError as exc:
            transcript[-1] = _assistant_turn(render_error(str(exc)))
            yield _streamed(transcript, suggestions=self.opening_suggestions(collection))
            return None
        except Exception as exc:  # a bug must not leave the chat spinning
            log.exception("answering failed")
            transcript[-1] = _assistant_turn(render_error(f"Something went wrong: {type(exc).__name__}: {exc}"))
            yield _streamed(transcript)
            return None
        return answer

    def _finished(
        self, message: str, answer: Answer, transcript: list, turns: list, conversation_id: str | None, owner: str,
        collection: str | None,
    ) -> Outputs:
        """The cited answer, the sources panel, follow-up questions, and the conversation saved in the sidebar."""
        transcript[-1] = _assistant_turn(render_answer(answer))
        turns[-1] = turn_ref(answer.metadata.get("turn_id"), message, answer.text)
        if answer.follow_ups:
            follow = suggestion_updates(answer.follow_ups, "Follow-up questions")
        else:  # e.g. after an abstention: offer the corpus's own questions again
            follow = self.opening_suggestions(collection)
        view = View(chatbot=chat_update(transcript, turns), transcript=list(transcript), turns=turns,
                    sources=render_sources_for(self.assistant, answer), suggestions=follow)
        if conversation_id:
            view = replace(view, open_id=conversation_id, **self.conversations.after_answer(conversation_id, owner))
        return view.outputs()

    def clear(self, collection: str | None = None) -> Outputs:
        """An empty chat with no conversation open: the next question starts a new one."""
        return self.conversations.new(collection)
