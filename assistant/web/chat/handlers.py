"""What the chat does when the user acts: ask (streamed), start over, upload, suggest questions.

Answers go through the server's ``AnswerService``, so the chat gets the same
validation, lock and generator check as the JSON API, ``/v1`` and MCP. Each
question goes into the open conversation (a new one for the first question),
so the service reads the follow-up's history from the saved turns and saves
the answer as the next one. The handlers return ``View``s: only the
components they name change.
"""

from __future__ import annotations

import logging
from collections.abc import Generator, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import gradio as gr

from assistant.answer import Answer
from assistant.assistant import Assistant
from assistant.errors import AssistantError
from assistant.web.chat.conversations import ConversationHandlers
from assistant.web.chat.feedback import FeedbackHandlers
from assistant.web.chat.render import (
    render_answer,
    render_documents,
    render_error,
    render_notice,
    render_sources_for,
    render_streaming,
    render_upload_report,
    render_user,
)
from assistant.web.chat.saved import chat_update, history_of, turn_ref
from assistant.web.chat.session import owner_of
from assistant.web.chat.view import KEEP, View, suggestion_updates
from assistant.web.service import AnswerEvent, AnswerService
from assistant.web.uploads import ingest_uploads

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

    def go_deeper(self) -> list[str]:
        """The corpus's own questions; none when the index cannot be read."""
        try:
            return self.assistant.suggested_questions()
        except AssistantError:
            return []

    def opening_suggestions(self) -> list[Any]:
        """The suggestion updates for an empty chat."""
        return suggestion_updates(self.go_deeper(), "Go deeper")

    def respond(
        self,
        message: str,
        transcript: list,
        turns: list,
        open_id: str | None,
        k: float,
        generator: str | None,
        request: gr.Request,
    ) -> Iterator[Outputs]:
        """Answer ``message`` in the open conversation: show it, stream its verified sentences,
        then the cited answer, its sources, and the sidebar with the conversation saved."""
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
                                     conversation_id=conversation_id, owner=owner)
        answer = yield from self._stream_sentences(events, transcript)
        if answer is None:
            if created and conversation_id:  # nothing was saved in it: do not list an empty conversation
                self.conversations.discard(conversation_id, owner)
                yield View(open_id=None).outputs()
            return
        yield self._finished(message, answer, transcript, turns, conversation_id, owner)

    def _stream_sentences(
        self, events: Iterator[AnswerEvent], transcript: list
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
            yield _streamed(transcript, suggestions=self.opening_suggestions())
            return None
        except Exception as exc:  # a bug must not leave the chat spinning
            log.exception("answering failed")
            transcript[-1] = _assistant_turn(render_error(f"Something went wrong: {type(exc).__name__}: {exc}"))
            yield _streamed(transcript)
            return None
        return answer

    def _finished(
        self, message: str, answer: Answer, transcript: list, turns: list, conversation_id: str | None, owner: str
    ) -> Outputs:
        """The cited answer, the sources panel, follow-up questions, and the conversation saved in the sidebar."""
        transcript[-1] = _assistant_turn(render_answer(answer))
        turns[-1] = turn_ref(answer.metadata.get("turn_id"), message, answer.text)
        if answer.follow_ups:
            follow = suggestion_updates(answer.follow_ups, "Follow-up questions")
        else:  # e.g. after an abstention: offer the corpus's own questions again
            follow = self.opening_suggestions()
        view = View(chatbot=chat_update(transcript, turns), transcript=list(transcript), turns=turns,
                    sources=render_sources_for(self.assistant, answer), suggestions=follow)
        if conversation_id:
            view = replace(view, open_id=conversation_id, **self.conversations.after_answer(conversation_id, owner))
        return view.outputs()

    def clear(self) -> Outputs:
        """An empty chat with no conversation open: the next question starts a new one."""
        return self.conversations.new()

    def upload(self, files: list[str] | None, progress: gr.Progress = gr.Progress()) -> Outputs:  # noqa: B008
        """Index the chosen files; the report, the refreshed document list, and an emptied picker."""
        if not files:
            return '<div class="upload-msg warn">Choose one or more documents to upload first.</div>', gr.skip(), gr.skip()
        pairs = [(Path(f).name, Path(f)) for f in files]
        try:
            report = ingest_uploads(self.assistant, pairs, progress=lambda frac, desc: progress(frac, desc=desc))
        except AssistantError as exc:
            return render_upload_report(None, str(exc)), gr.skip(), None
        return render_upload_report(report), render_documents(self.assistant), None
