"""An OpenAI-compatible chat endpoint, so any OpenAI client can chat with the corpus.

``GET /v1/models`` and ``POST /v1/chat/completions`` (streaming and not). A
model is a collection: ``/v1/models`` lists one per collection (``assistant``
is the default one), so an OpenAI client picks a corpus by model name; any
other model name (a client's default) gets the server's own collection, and
the completion's ``model`` says which collection answered. The
last user message is the question and earlier turns are the history, exactly
as ``Assistant.stream`` takes them. The answer text keeps its ``[n]`` markers
and ends with a "Sources:" list a plain chat client can show; the same
citations come structured in an extra top-level ``citations`` field (with
``abstained``), which the OpenAI SDK exposes as ``completion.citations``.

Streaming sends the answer's sentences as the chain verifies them: a chat
client cannot take back what it was sent, and ``Assistant.stream`` yields
only sentences that passed the support judge, which joined are the final
text (for every generator).

Answers go through the app's ``AnswerService``, like every other surface:
the same validation, answering lock (busy: 503) and error codes.

Mount with ``app.include_router(openai_routes.router)``; the router reads the
``Assistant`` from ``request.app.state.assistant``. When ``api_token`` is set,
requests need ``Authorization: Bearer <token>``; these routes check it
themselves (``GUARDED_PATHS``), so the app's token middleware skips them.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Generator, Iterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from assistant.answer import Answer, Citation, final_answer
from assistant.errors import AssistantError, InputError
from assistant.web.auth import bearer_matches
from assistant.web.error_responses import describe_error
from assistant.web.service import AnswerEvent, shared_service

CREATED = 1_735_689_600  # fixed: the model list should not change between calls

router = APIRouter(prefix="/v1", tags=["OpenAI-compatible"])
#: The paths of this router; each checks the bearer token itself.
GUARDED_PATHS = frozenset({"/v1/models", "/v1/chat/completions"})


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: str
    content: str | list[dict[str, Any]] | None = None


class ChatCompletionRequest(BaseModel):
    """The fields we use; anything else an OpenAI client sends is accepted and ignored."""

    model_config = ConfigDict(extra="allow")

    model: str | None = Field(None, description="A collection (GET /v1/models); unset: the server's own.")
    messages: list[ChatMessage] = Field(..., min_length=1)
    stream: bool = False
    k: int | None = Field(None, ge=1, le=50, description="Chunks to retrieve (extension).")


def _error(
    message: str, status: int, kind: str = "invalid_request_error", code: str | None = None, param: str | None = None
) -> JSONResponse:
    """An error in the shape OpenAI clients parse (``error.message``)."""
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(
        {"error": {"message": message, "type": kind, "param": param, "code": code}},
        status_code=status,
        headers=headers,
    )


def _unauthorised(request: Request) -> JSONResponse | None:
    """An OpenAI-shaped 401 unless the request carries the server's token (if it has one)."""
    token = request.app.state.assistant.settings.api_token
    secret = token.get_secret_value() if token is not None else ""
    if not secret or bearer_matches(request, secret):
        return None
    return _error(
        "Missing or wrong token: send 'Authorization: Bearer <ASSISTANT_API_TOKEN>' "
        "(the OpenAI SDK sends its api_key this way).",
        401,
        kind="authentication_error",
        code="invalid_api_key",
    )


def _failure(exc: BaseException) -> JSONResponse:
    """Any failure as an OpenAI error, with the status and stable code the JSON API uses."""
    report = describe_error(exc)
    kind = "invalid_request_error" if report.status < 500 else "server_error"
    return _error(report.message, report.status, kind=kind, code=report.code)


def _text_of(content: str | list[dict[str, Any]] | None) -> str:
    """Message content as text: a string, or the text parts of a content list."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "\n".join(str(p.get("text", "")) for p in content if p.get("type") in ("text", "input_text"))


def _question_and_history(messages: list[ChatMessage]) -> tuple[str, list[dict[str, str]]]:
    users = [i for i, m in enumerate(messages) if m.role == "user"]
    if not users:
        raise InputError("messages has no 'user' message; send the question as {'role': 'user', 'content': ...}.")
    last = users[-1]
    history = [
        {"role": m.role, "content": _text_of(m.content)}
        for m in messages[:last]
        if m.role in ("user", "assistant")
    ]
    return _text_of(messages[last].content), history


def format_sources(citations: list[Citation]) -> str:
    """The plain-text sources list appended to the message: one line per citation."""
    if not citations:
        return ""
    lines = ["Sources:"]
    for c in citations:
        where = c.title or c.source
        if c.section:
            where += f" — {c.section}"
        if c.page:
            where += f", p. {c.page}"
        snippet = c.snippet if len(c.snippet) <= 200 else c.snippet[:197].rstrip() + "…"
        lines.append(f'[{c.id}] {where} ({c.source}, chars {c.start}-{c.end}): "{snippet}"')
    return "\n".join(lines)


def message_text(answer: Answer) -> str:
    """The answer as a chat message: the cited text, then the sources list."""
    sources = format_sources(answer.citations)
    return f"{answer.text}\n\n{sources}" if sources else answer.text


def _extra_fields(answer: Answer) -> dict[str, Any]:
    return {
        "citations": [c.to_dict() for c in answer.citations],
        "abstained": answer.abstained,
        "follow_ups": list(answer.follow_ups),
    }


def _usage(question: str, text: str) -> dict[str, int]:
    # Word counts, not tokens: clients only display these.
    prompt, completion = len(question.split()), len(text.split())
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


@router.get("/models")
def list_models(request: Request) -> Any:
    """One model per collection, named as the collection, so any OpenAI client can pick a corpus."""
    denied = _unauthorised(request)
    if denied is not None:
        return denied
    assistant = request.app.state.assistant
    generator = assistant.settings.llm
    try:
        infos = assistant.collections.list()
    except Exception as exc:
        return _failure(exc)
    own = assistant.settings.collection  # the server's own collection first: what a client picks by default
    infos.sort(key=lambda info: info.name != own)
    return {
        "object": "list",
        "data": [
            {
                "id": info.name,
                "object": "model",
                "created": CREATED,
                "owned_by": "assistant",
                "description": f"Cited answers over the {info.documents} documents of collection {info.name!r} "
                f"(generator: {generator}).",
            }
            for info in infos
        ],
    }


def _collection_of(model: str | None, request: Request) -> str:
    """The collection a ``model`` names; any other model (a client's default such as ``gpt-4o``,
    or none): the server's own, so a client that cannot pick a model still gets answers.
    The completion's ``model`` says which collection answered."""
    root = request.app.state.assistant
    if model and model != root.settings.collection:
        try:
            if root.collections.exists(model):
                return model
        except AssistantError:  # not a valid collection name: a client's model name
            pass
    return root.settings.collection


@router.post("/chat/completions")
def chat_completions(req: ChatCompletionRequest, request: Request) -> Any:
    """Answer the last user message from the documents, with citations."""
    denied = _unauthorised(request)
    if denied is not None:
        return denied
    service = shared_service(request.app.state)
    try:
        question, history = _question_and_history(req.messages)
        # Opened before responding: bad input, index and busy errors become a plain 4xx/503.
        collection = _collection_of(req.model, request)
        events = service.open_stream(question, k=req.k, history=history, collection=collection)
        completion = _Completion(collection, question)
        if req.stream:
            return StreamingResponse(
                _sse(completion.chunks(events)),
                media_type="text/event-stream",
                headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
            )
        return completion.message(final_answer(events))
    except Exception as exc:
        return _failure(exc)


class _Completion:
    """One chat completion's identity, and its answer in the two OpenAI shapes."""

    def __init__(self, model: str, question: str) -> None:
        self.id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        self.created = int(time.time())
        self.model = model
        self.question = question

    def message(self, answer: Answer) -> dict[str, Any]:
        """The ``chat.completion`` object (no streaming)."""
        text = message_text(answer)
        choice = {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop", "logprobs": None}
        return {
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "choices": [choice],
            "usage": _usage(self.question, text),
            **_extra_fields(answer),
        }

    def chunk(self, delta: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, Any]:
        """One ``chat.completion.chunk`` object."""
        return {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
            **extra,
        }

    def chunks(self, events: Generator[AnswerEvent, None, None]) -> Iterator[dict[str, Any]]:
        """Role, content deltas (each verified sentence as it comes), sources, then the finish chunk.

        An error object instead if answering fails.
        """
        yield self.chunk({"role": "assistant", "content": ""})
        sent: list[str] = []
        answer: Answer | None = None
        try:
            for event in events:
                if isinstance(event, Answer):
                    answer = event
                elif event:
                    sent.append(event)
                    yield self.chunk({"content": event})
        except Exception as exc:
            report = describe_error(exc)
            yield {"error": {"message": report.message, "type": "server_error", "code": report.code}}
            return
        finally:
            events.close()  # releases the answering lock when the client goes away
        assert answer is not None  # the stream always ends with its Answer
        for piece in _catch_up("".join(sent), answer.text):
            yield self.chunk({"content": piece})
        sources = format_sources(answer.citations)
        if sources:
            yield self.chunk({"content": f"\n\n{sources}"})
        yield self.chunk({}, "stop", usage=_usage(self.question, message_text(answer)), **_extra_fields(answer))


def _catch_up(streamed: str, final: str) -> list[str]:
    """What to send after the live tokens so that the client ends with the final text."""
    if not streamed:
        return re.findall(r"\S+\s*", final)
    if _squash(streamed) != _squash(final):
        # The chain's pieces join to the final text; should that ever break,
        # send the final text so the client has it.
        return [f"\n\n{final}"]
    return []


def _squash(text: str) -> str:
    return " ".join(text.split())


def _sse(chunks: Iterator[dict[str, Any]]) -> Iterator[str]:
    for item in chunks:
        yield f"data: {json.dumps(item, ensure_ascii=False)}\n\n"
    yield "data: [DONE]\n\n"
