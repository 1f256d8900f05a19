"""What the chat does when the user acts: ask (streamed), clear, upload, suggest questions.

Answers go through the server's ``AnswerService``, so the chat gets the same
validation, lock and generator check as the JSON API, ``/v1`` and MCP. The
handlers return Gradio updates in the order of ``ChatLayout``'s lists; an
output a step does not change is ``gr.skip()``, so Gradio leaves it alone.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import gradio as gr

from assistant.answer import Answer
from assistant.assistant import Assistant
from assistant.errors import AssistantError
from assistant.web.chat.layout import SUGGESTION_SLOTS
from assistant.web.chat.render import (
    render_answer,
    render_documents,
    render_error,
    render_sources_panel,
    render_streaming,
    render_upload_report,
    render_user,
)
from assistant.web.service import AnswerEvent, AnswerService
from assistant.web.uploads import ingest_uploads

log = logging.getLogger(__name__)
Outputs = tuple[Any, ...]


def suggestion_updates(questions: list[str], title: str) -> list[Any]:
    """The suggestion title and buttons showing ``questions`` (unused buttons hidden)."""
    questions = questions[:SUGGESTION_SLOTS]
    head = gr.update(value=f'<div class="sugg-title">{title}</div>' if questions else "", visible=bool(questions))
    buttons = [
        gr.update(value=questions[i], visible=True) if i < len(questions) else gr.update(value="", visible=False)
        for i in range(SUGGESTION_SLOTS)
    ]
    return [head, *buttons]


def _outputs(
    chat: list | None = None,
    history: list | None = None,
    sources: str | None = None,
    box: str | None = None,
    suggestions: list[Any] | None = None,
) -> Outputs:
    """``respond``'s outputs (``ChatLayout.answer_outputs``): None leaves a component as it is."""
    skip = gr.skip()
    return (
        skip if chat is None else chat,
        skip if history is None else history,
        skip if sources is None else sources,
        skip if box is None else box,
        *(suggestions if suggestions is not None else (skip,) * (SUGGESTION_SLOTS + 1)),
        skip if chat is None else list(chat),  # the transcript state keeps its own copy
    )


def _assistant_turn(html: str) -> dict[str, str]:
    return {"role": "assistant", "content": html}


class ChatHandlers:
    """The chat's event handlers over one assistant and its answering service."""

    def __init__(self, assistant: Assistant, service: AnswerService) -> None:
        self.assistant = assistant
        self.service = service

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
        self, message: str, transcript: list, history: list, k: float, generator: str | None
    ) -> Iterator[Outputs]:
        """Answer ``message``: show it, stream its verified sentences, then the cited answer and its sources."""
        message = (message or "").strip()
        if not message:
            yield _outputs()
            return
        transcript = [*transcript, {"role": "user", "content": render_user(message)},
                      _assistant_turn(render_streaming(""))]
        yield _outputs(transcript, box="", suggestions=suggestion_updates([], ""))
        events = self.service.stream(message, k=int(k) if k else None, history=history, generator=generator)
        answer = yield from self._stream_sentences(events, transcript)
        if answer is not None:
            yield self._finished(message, answer, transcript, history)

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
                yield _outputs(transcript)
        except AssistantError as exc:
            transcript[-1] = _assistant_turn(render_error(str(exc)))
            yield _outputs(transcript, suggestions=self.opening_suggestions())
            return None
        except Exception as exc:  # a bug must not leave the chat spinning
            log.exception("answering failed")
            transcript[-1] = _assistant_turn(render_error(f"Something went wrong: {type(exc).__name__}: {exc}"))
            yield _outputs(transcript)
            return None
        return answer

    def _finished(self, message: str, answer: Answer, transcript: list, history: list) -> Outputs:
        """The cited answer, the sources panel, and follow-up questions to offer."""
        transcript[-1] = _assistant_turn(render_answer(answer))
        history = [*history, {"role": "user", "content": message}, {"role": "assistant", "content": answer.text}]
        texts = {}
        for source in {c.source for c in answer.citations}:
            with contextlib.suppress(AssistantError):
                texts[source] = self.assistant.document_text(source)
        if answer.follow_ups:
            follow = suggestion_updates(answer.follow_ups, "Follow-up questions")
        else:  # e.g. after an abstention: offer the corpus's own questions again
            follow = self.opening_suggestions()
        return _outputs(transcript, history, render_sources_panel(answer, texts), suggestions=follow)

    def clear(self) -> Outputs:
        """An empty chat (``ChatLayout.cleared``)."""
        return [], [], [], render_sources_panel(None, {}), "", *self.opening_suggestions()

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
