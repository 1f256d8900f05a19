"""The one answering path every surface takes: JSON API, SSE, /v1, the chat and MCP.

``Assistant`` answers; this service adds what a server needs on top, so that
no surface can skip it: the question is validated once (before any wait), the
per-question generator must be one the server offers, and one question at a
time goes through the (not thread-safe) local model. A caller that waits for
the model longer than ``busy_timeout_s`` gets a ``BackendError`` (HTTP 503),
not a hang.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Generator
from typing import Any

from assistant.answer import Answer, final_answer
from assistant.answering.chain import validate_question
from assistant.assistant import Assistant
from assistant.conversations.records import LOCAL_OWNER
from assistant.errors import BackendError, InputError, NotFoundError
from assistant.settings import LOCAL_GENERATORS

AnswerEvent = str | Answer


class FieldError(InputError):
    """Bad input that one request field is to blame for, so clients can point at it.

    The JSON API reports ``field`` next to the message; other surfaces show
    the message like any ``InputError``.
    """

    def __init__(self, field: str, message: str, status_code: int = 400, code: str = "invalid_input") -> None:
        super().__init__(message)
        self.field = field
        self.status_code = status_code
        self.code = code


def plain_history(history: list[dict[str, Any]] | None) -> list[dict[str, str]]:
    """Keep only well-formed ``{"role", "content"}`` turns (what the core condenses)."""
    out: list[dict[str, str]] = []
    for turn in history or []:
        if isinstance(turn, dict) and turn.get("role") in ("user", "assistant"):
            content = turn.get("content")
            if isinstance(content, str) and content.strip():
                out.append({"role": turn["role"], "content": content})
    return out


def first_then_rest(
    first: AnswerEvent, rest: Generator[AnswerEvent, None, None]
) -> Generator[AnswerEvent, None, None]:
    """Yield an event already taken from ``rest``, then the rest; closing it closes ``rest``.

    Closing matters: ``rest`` holds the answering lock until it is closed.
    """
    try:
        yield first
        yield from rest
    finally:
        rest.close()


_CREATE_LOCK = threading.Lock()


def shared_service(state: Any) -> AnswerService:
    """The app's one ``AnswerService`` (``state.service``), made from ``state.assistant`` if missing.

    ``create_app`` sets it; a router mounted on a bare app (as the OpenAI
    routes may be) still gets one service, hence one lock, per app.
    """
    with _CREATE_LOCK:
        if getattr(state, "service", None) is None:
            state.service = AnswerService(state.assistant)
    return state.service


class AnswerService:
    """Answers one question at a time with the same checks for every surface."""

    def __init__(self, assistant: Assistant, busy_timeout_s: float = 90.0) -> None:
        self.assistant = assistant
        self.busy_timeout_s = busy_timeout_s
        self._lock = threading.Lock()

    def check_question(self, question: object) -> str:
        """The question, cleaned; a ``FieldError`` on ``question`` when it is unusable."""
        try:
            return validate_question(question, self.assistant.settings.max_question_chars)
        except InputError as exc:
            raise FieldError("question", str(exc)) from None

    def check_generator(self, generator: str | None) -> None:
        """Refuse a per-question generator the server does not offer."""
        if generator is not None and generator not in LOCAL_GENERATORS:
            raise FieldError(
                "generator", f"generator must be one of {', '.join(LOCAL_GENERATORS)}, got {generator!r}."
            )

    def stream(
        self,
        question: str,
        k: int | None = None,
        history: list[dict[str, Any]] | None = None,
        generator: str | None = None,
        conversation_id: str | None = None,
        owner: str = LOCAL_OWNER,
        collection: str | None = None,
    ) -> Generator[AnswerEvent, None, None]:
        """Tokens, then the final ``Answer``; holds the answering lock while it runs.

        With ``conversation_id``, the history is that conversation's saved turns
        and the answer is saved as its next turn (``metadata["turn_id"]``).

        Checks run when the first event is asked for; use ``open_stream`` to run
        them at once.

        Raises:
            FieldError: the question or the generator is unusable.
            InputError: ``conversation_id`` is malformed, or (``NotFoundError``) not ``owner``'s.
            BackendError: another question held the model for ``busy_timeout_s``.
        """
        cleaned = self.check_question(question)
        self.check_generator(generator)
        target = self.collection(collection)
        if conversation_id is not None:
            self.assistant.conversations.check_owned(conversation_id, owner)  # before any wait
        if not self._lock.acquire(timeout=self.busy_timeout_s):
            raise BackendError(
                f"The assistant is busy answering another question (waited {self.busy_timeout_s:.0f}s); retry shortly."
            )
        try:
            yield from target.stream(
                cleaned, k=k, history=plain_history(history), generator=generator,
                conversation_id=conversation_id, owner=owner,
            )
        finally:
            self._lock.release()

    def open_stream(
        self,
        question: str,
        k: int | None = None,
        history: list[dict[str, Any]] | None = None,
        generator: str | None = None,
        conversation_id: str | None = None,
        owner: str = LOCAL_OWNER,
        collection: str | None = None,
    ) -> Generator[AnswerEvent, None, None]:
        """``stream``, started: bad input, an empty index and a busy model raise here.

        A streaming HTTP response cannot change its status once it has begun,
        so the routes open the stream before they respond and turn these
        errors into a plain 4xx/503.
        """
        events = self.stream(
            question, k=k, history=history, generator=generator, conversation_id=conversation_id, owner=owner,
            collection=collection,
        )
        first = next(events)
        return first_then_rest(first, events)

    def ask(
        self,
        question: str,
        k: int | None = None,
        history: list[dict[str, Any]] | None = None,
        generator: str | None = None,
        conversation_id: str | None = None,
        owner: str = LOCAL_OWNER,
        collection: str | None = None,
    ) -> Answer:
        """The final ``Answer`` of ``stream``."""
        return final_answer(self.stream(
            question, k=k, history=history, generator=generator, conversation_id=conversation_id, owner=owner,
            collection=collection,
        ))

    def collection(self, name: str | None) -> Assistant:
        """The assistant of collection ``name`` (None: the server's own); a ``FieldError`` on
        ``collection`` (404 when it does not exist) otherwise."""
        if name is None:
            return self.assistant
        try:
            return self.assistant.for_collection(name)
        except NotFoundError as exc:
            raise FieldError("collection", str(exc), 404, "not_found") from None
        except InputError as exc:
            raise FieldError("collection", str(exc)) from None

    def prepare(self, generator: str | None) -> None:
        """Load a generator's model in the background (the chat calls this when it is picked)."""
        if not generator or generator not in LOCAL_GENERATORS or generator == self.assistant.settings.llm:
            return

        def load() -> None:
            # A failure here is reported by the question that needs the model.
            with contextlib.suppress(Exception):
                self.assistant.chat_model_for(generator)

        threading.Thread(target=load, name=f"load-{generator}", daemon=True).start()
