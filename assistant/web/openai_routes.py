"""An OpenAI-compatible chat endpoint, so any OpenAI client can chat with the corpus.

``GET /v1/models`` and ``POST /v1/chat/completions`` (streaming and not). The
last user message is the question and earlier turns are the history, exactly
as ``Assistant.stream`` takes them. The answer text keeps its ``[n]`` markers
and ends with a "Sources:" list a plain chat client can show; the same
citations come structured in an extra top-level ``citations`` field (with
``abstained``), which the OpenAI SDK exposes as ``completion.citations``.

Streaming sends the generator's tokens live only when they are already the
final text (the extractive generator). An LLM's draft is verified sentence by
sentence before it becomes the answer, and a chat client cannot take back
what it was sent, so for LLM generators the verified text is streamed once it
is known.

Mount with ``app.include_router(openai_api.router)``; the router reads the
``Assistant`` from ``request.app.state.assistant``. When ``api_token`` is set,
requests need ``Authorization: Bearer <token>``, as on the rest of the API.
"""

from __future__ import annotations

import hmac
import json
import re
import time
import uuid
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from assistant.answer import Answer, Citation
from assistant.errors import AssistantError
from assistant.ingest.formats import page_in_manifest

MODEL_ID = "assistant"
CREATED = 1_735_689_600  # fixed: the model list should not change between calls

router = APIRouter(prefix="/v1", tags=["OpenAI-compatible"])


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: str
    content: str | list[dict[str, Any]] | None = None


class ChatCompletionRequest(BaseModel):
    """The fields we use; anything else an OpenAI client sends is accepted and ignored."""

    model_config = ConfigDict(extra="allow")

    model: str = MODEL_ID
    messages: list[ChatMessage] = Field(..., min_length=1)
    stream: bool = False
    k: int | None = Field(None, ge=1, le=50, description="Chunks to retrieve (extension).")


def _error(message: str, status: int, kind: str = "invalid_request_error", code: str | None = None) -> JSONResponse:
    """An error in the shape OpenAI clients parse (``error.message``)."""
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(
        {"error": {"message": message, "type": kind, "param": None, "code": code}},
        status_code=status,
        headers=headers,
    )


def _unauthorised(request: Request) -> JSONResponse | None:
    token = request.app.state.assistant.settings.api_token
    secret = token.get_secret_value() if token is not None else ""
    if not secret:
        return None
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(), secret.encode()):
        return None
    return _error(
        "Missing or wrong token: send 'Authorization: Bearer <ASSISTANT_API_TOKEN>' "
        "(the OpenAI SDK sends its api_key this way).",
        401,
        kind="authentication_error",
        code="invalid_api_key",
    )


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
        raise _RequestError("messages has no 'user' message; send the question as {'role': 'user', 'content': ...}.")
    last = users[-1]
    history = [
        {"role": m.role, "content": _text_of(m.content)}
        for m in messages[:last]
        if m.role in ("user", "assistant")
    ]
    return _text_of(messages[last].content), history


class _RequestError(Exception):
    pass


def _pages(assistant: Any, citations: list[Citation]) -> dict[int, int | None]:
    """Citation id -> PDF page (None for other formats), from the offsets and the manifest."""
    manifest = assistant.index.manifest()
    return {
        c.id: getattr(c, "page", None) or page_in_manifest(manifest, c.source, c.start) for c in citations
    }


def format_sources(citations: list[Citation], pages: dict[int, int | None] | None = None) -> str:
    """The plain-text sources list appended to the message: one line per citation."""
    if not citations:
        return ""
    lines = ["Sources:"]
    for c in citations:
        where = c.title or c.source
        if c.section:
            where += f" — {c.section}"
        page = (pages or {}).get(c.id) or getattr(c, "page", None)
        if page:
            where += f", p. {page}"
        snippet = c.snippet if len(c.snippet) <= 200 else c.snippet[:197].rstrip() + "…"
        lines.append(f'[{c.id}] {where} ({c.source}, chars {c.start}-{c.end}): "{snippet}"')
    return "\n".join(lines)


def message_text(answer: Answer, pages: dict[int, int | None] | None = None) -> str:
    """The answer as a chat message: the cited text, then the sources list."""
    sources = format_sources(answer.citations, pages)
    return f"{answer.text}\n\n{sources}" if sources else answer.text


def _extra_fields(answer: Answer, pages: dict[int, int | None]) -> dict[str, Any]:
    return {
        "citations": [{**c.to_dict(), "page": pages.get(c.id)} for c in answer.citations],
        "abstained": answer.abstained,
        "follow_ups": list(answer.follow_ups),
    }


def _usage(question: str, text: str) -> dict[str, int]:
    # Word counts, not tokens: clients only display these.
    prompt, completion = len(question.split()), len(text.split())
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


@router.get("/models")
def list_models(request: Request) -> Any:
    """The one model this server offers: the assistant over its indexed documents."""
    denied = _unauthorised(request)
    if denied is not None:
        return denied
    generator = request.app.state.assistant.settings.llm
    return {
        "object": "list",
        "data": [
            {
                "id": MODEL_ID,
                "object": "model",
                "created": CREATED,
                "owned_by": "assistant",
                "description": f"Cited answers over the indexed documents (generator: {generator}).",
            }
        ],
    }


@router.post("/chat/completions")
def chat_completions(req: ChatCompletionRequest, request: Request) -> Any:
    """Answer the last user message from the documents, with citations."""
    denied = _unauthorised(request)
    if denied is not None:
        return denied
    assistant = request.app.state.assistant
    try:
        question, history = _question_and_history(req.messages)
        events = assistant.stream(question, k=req.k, history=history)
        first = next(events)  # validation and index errors become 4xx before any byte is sent
    except _RequestError as exc:
        return _error(str(exc), 400)
    except AssistantError as exc:
        kind = "invalid_request_error" if exc.status_code < 500 else "server_error"
        return _error(str(exc), exc.status_code, kind=kind, code=type(exc).__name__)
    completion_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
    created = int(time.time())
    model = req.model or MODEL_ID
    if not req.stream:
        answer = first if isinstance(first, Answer) else None
        try:
            for event in events:
                if isinstance(event, Answer):
                    answer = event
        except AssistantError as exc:
            return _error(str(exc), exc.status_code, kind="server_error", code=type(exc).__name__)
        assert answer is not None
        pages = _pages(assistant, answer.citations)
        text = message_text(answer, pages)
        return {
            "id": completion_id,
            "object": "chat.completion",
            "created": created,
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": "stop",
                    "logprobs": None,
                }
            ],
            "usage": _usage(question, text),
            **_extra_fields(answer, pages),
        }
    live = assistant.settings.llm == "extractive"
    return StreamingResponse(
        _sse(_chunks(first, events, live, completion_id, created, model, question, assistant)),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def _chunks(
    first: Any,
    events: Iterator[Any],
    live: bool,
    completion_id: str,
    created: int,
    model: str,
    question: str,
    assistant: Any,
) -> Iterator[dict[str, Any]]:
    """``chat.completion.chunk`` objects: role, content deltas, sources, then the finish chunk."""

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, Any]:
        return {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
            **extra,
        }

    yield chunk({"role": "assistant", "content": ""})
    sent: list[str] = []
    answer: Answer | None = None
    try:
        for event in _prepend(first, events):
            if isinstance(event, Answer):
                answer = event
            elif live and event:
                sent.append(event)
                yield chunk({"content": event})
    except AssistantError as exc:
        yield {"error": {"message": str(exc), "type": "server_error", "code": type(exc).__name__}}
        return
    assert answer is not None
    streamed = "".join(sent)
    if not sent:
        for piece in re.findall(r"\S+\s*", answer.text):
            yield chunk({"content": piece})
    elif _squash(streamed) != _squash(answer.text):
        # The live text was not the final text (e.g. an "As of <date>" lead was
        # added at the end); send the final text so the client has it.
        yield chunk({"content": f"\n\n{answer.text}"})
    pages = _pages(assistant, answer.citations)
    sources = format_sources(answer.citations, pages)
    if sources:
        yield chunk({"content": f"\n\n{sources}"})
    text = message_text(answer, pages)
    yield chunk({}, "stop", usage=_usage(question, text), **_extra_fields(answer, pages))


def _squash(text: str) -> str:
    return " ".join(text.split())


def _prepend(first: Any, rest: Iterator[Any]) -> Iterator[Any]:
    yield first
    yield from rest


def _sse(chunks: Iterator[dict[str, Any]]) -> Iterator[str]:
    for item in chunks:
        yield f"data: {json.dumps(item, ensure_ascii=False)}\n\n"
    yield "data: [DONE]\n\n"
