"""The JSON HTTP API under ``/api``: health, documents, answers (JSON and SSE), ingest, upload.

Each route is a thin adapter: answers go through the app's ``AnswerService``
(the same validation, lock and generator check as the chat, ``/v1`` and
MCP), everything else through its ``Assistant``. Both are read from
``request.app.state``, which ``create_app`` fills. Errors are raised, not
returned, so the handlers in ``error_responses`` give them one shape.
Saved conversations and feedback have their own router, ``conversation_routes``.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from assistant.answer import Answer
from assistant.assistant import Assistant
from assistant.errors import InputError
from assistant.settings import LOCAL_GENERATORS
from assistant.web.error_responses import describe_error
from assistant.web.owner import request_owner
from assistant.web.service import AnswerEvent, AnswerService, FieldError, shared_service
from assistant.web.uploads import copy_capped, ingest_uploads

router = APIRouter(prefix="/api")


def _assistant(request: Request, collection: str | None = None) -> Assistant:
    """The assistant of the ``collection`` query parameter (absent: the server's own collection)."""
    return shared_service(request.app.state).collection(collection)


def _service(request: Request) -> AnswerService:
    return shared_service(request.app.state)


def _root_assistant(request: Request) -> Assistant:
    return request.app.state.assistant


AssistantDep = Annotated[Assistant, Depends(_assistant)]
RootDep = Annotated[Assistant, Depends(_root_assistant)]
ServiceDep = Annotated[AnswerService, Depends(_service)]


class Turn(BaseModel):
    role: Literal["user", "assistant"]
    content: str


class AskRequest(BaseModel):
    question: str = Field(..., description="The question to answer.", examples=["How is China enforcing its rare earth export restrictions?"])
    k: int | None = Field(None, ge=1, le=50, description="Chunks to retrieve (default: ASSISTANT_K).")
    history: list[Turn] | None = Field(None, description="Earlier turns, oldest first; follow-ups are condensed with them.")
    generator: Literal["llamacpp", "extractive"] | None = Field(None, description="Generator for this question (default: ASSISTANT_LLM).")
    conversation_id: str | None = Field(
        None,
        description="A saved conversation (POST /api/conversations): its turns are the history (``history`` "
        "is then ignored) and the answer is saved as its next turn.",
    )
    collection: str | None = Field(None, description="The collection to answer from (default: the server's, ASSISTANT_COLLECTION).")

    def turns(self) -> list[dict[str, Any]]:
        return [t.model_dump() for t in self.history or []]


class IngestRequest(BaseModel):
    paths: list[str] = Field(..., min_length=1, description="Files or folders on the server to index.")
    collection: str | None = Field(None, description="The collection to ingest into (created when new).")


@router.get("/health", tags=["meta"])
def health(assistant: AssistantDep) -> dict[str, Any]:
    """Liveness plus what is indexed and which generator answers."""
    return {
        "status": "ok",
        "documents": len(assistant.index.manifest().documents),
        "chunks": assistant.index.count_chunks(),
        "generator": assistant.settings.llm,
        "generators": list(LOCAL_GENERATORS),
    }


@router.get("/documents", tags=["documents"])
def documents(assistant: AssistantDep) -> list[dict[str, Any]]:
    """Indexed documents: id, title, sections, newest date, suggested questions."""
    return assistant.documents()


@router.get("/documents/{doc_id}", tags=["documents"])
def document(doc_id: str, assistant: AssistantDep) -> dict[str, Any]:
    """The full text of one document; citation ``start``/``end`` index into ``text``."""
    known = {d["id"]: d for d in assistant.documents()}
    if doc_id not in known:
        raise FieldError(
            "doc_id", f"Unknown document {doc_id!r}; list documents with GET /api/documents.", 404, "not_found"
        )
    return {"id": doc_id, "title": known[doc_id]["title"], "text": assistant.document_text(doc_id)}


@router.delete("/documents/{doc_id}", tags=["documents"])
def delete_document(doc_id: str, assistant: AssistantDep) -> dict[str, Any]:
    """Remove one document (its chunks and kept text) from the collection; its file is not touched."""
    assistant.delete_document(doc_id)
    return {"deleted": doc_id, "collection": assistant.settings.collection}


@router.post("/documents/{doc_id}/reindex", tags=["documents"])
def reindex_document(doc_id: str, assistant: AssistantDep) -> dict[str, Any]:
    """Parse, chunk and index one document's file again; returns the ingest report."""
    return {**assistant.reindex_document(doc_id).to_dict(), "collection": assistant.settings.collection}


@router.get("/suggestions", tags=["documents"])
def suggestions(assistant: AssistantDep) -> list[str]:
    """The corpus's own 'Go deeper' questions."""
    return assistant.suggested_questions()


def answer_body(answer: Answer) -> dict[str, Any]:
    """``Answer.to_dict()`` plus top-level ``turn_id`` and ``conversation_id`` (null outside a
    conversation), so a client can rate the answer without digging into ``metadata``."""
    body = answer.to_dict()
    body["turn_id"] = answer.metadata.get("turn_id")
    body["conversation_id"] = answer.metadata.get("conversation_id")
    return body


@router.post("/ask", tags=["answers"])
def ask(req: AskRequest, service: ServiceDep, request: Request) -> dict[str, Any]:
    """Answer a question; the body is ``Answer.to_dict()`` plus ``turn_id`` and ``conversation_id``."""
    answer = service.ask(
        req.question, k=req.k, history=req.turns(), generator=req.generator,
        conversation_id=req.conversation_id, owner=request_owner(request), collection=req.collection,
    )
    return answer_body(answer)


@router.post("/ask/stream", tags=["answers"])
def ask_stream(req: AskRequest, service: ServiceDep, request: Request) -> StreamingResponse:
    """Server-sent events: ``token`` events (JSON strings: the answer's sentences, each sent once
    it is verified; joined they are the answer's ``text``), then one ``answer`` event
    (the body ``/api/ask`` returns), or an ``error`` event ``{"error", "code", "status"}``."""
    # Opened before responding: bad input, an unknown conversation, index and busy errors
    # become a plain 4xx/503.
    events = service.open_stream(
        req.question, k=req.k, history=req.turns(), generator=req.generator,
        conversation_id=req.conversation_id, owner=request_owner(request), collection=req.collection,
    )
    return StreamingResponse(
        _sse_events(events), media_type="text/event-stream", headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    )


def _sse(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def _sse_events(events: Generator[AnswerEvent, None, None]) -> Iterator[str]:
    """The answer stream as SSE; a failure mid-stream is an ``error`` event (the status is sent)."""
    try:
        for event in events:
            yield _sse("answer", answer_body(event)) if isinstance(event, Answer) else _sse("token", event)
    except Exception as exc:
        report = describe_error(exc)
        yield _sse("error", {"error": report.message, "code": report.code, "status": report.status})
    finally:
        events.close()  # releases the answering lock when the client goes away


@router.post("/ingest", tags=["documents"])
def ingest(req: IngestRequest, assistant: RootDep, request: Request) -> dict[str, Any]:
    """Index files or folders that are on the server; returns the ingest report.

    Only paths inside the server's working folder are accepted, so an API
    client cannot make the server read (and then serve) arbitrary files.
    """
    root = Path.cwd().resolve()
    for raw in req.paths:
        resolved = Path(raw).resolve()
        if resolved != root and root not in resolved.parents:
            raise FieldError(
                "paths", f"{raw!r} is outside the server's folder {root}; copy it there or use /api/upload.", 403, "forbidden"
            )
    if req.collection is not None:
        _create_if_new(assistant, req.collection)
        assistant = shared_service(request.app.state).collection(req.collection)
    return {**assistant.ingest(req.paths).to_dict(), "collection": assistant.settings.collection}


def _create_if_new(assistant: Assistant, name: str) -> None:
    """Writing documents into a collection creates it (as ``assistant ingest --collection``)."""
    try:
        assistant.collections.ensure(name)
    except InputError as exc:
        raise FieldError("collection", str(exc)) from None


@router.post("/upload", tags=["documents"])
def upload(
    assistant: RootDep,
    request: Request,
    files: list[UploadFile] = File(..., description=".txt or .md files"),  # noqa: B008
    collection: str | None = Form(None, description="The collection to add them to (created when new)."),  # noqa: B008
) -> dict[str, Any]:
    """Upload documents (multipart); saved under the collection's folder and indexed.
    Refused files are listed with the reason; the others are still added."""
    if collection is not None:
        _create_if_new(assistant, collection)
        assistant = shared_service(request.app.state).collection(collection)
    with tempfile.TemporaryDirectory(prefix="assistant-upload-") as tmp:
        pairs = []
        for i, item in enumerate(files):
            path = Path(tmp) / f"{i}.upload"
            copy_capped(item.file, path, assistant.settings.max_file_bytes)
            pairs.append((item.filename or "upload", path))
        return ingest_uploads(assistant, pairs).to_dict()
