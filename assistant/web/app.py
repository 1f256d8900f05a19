"""One server: the JSON HTTP API (FastAPI) with the Gradio chat mounted at ``/``.

Every route calls the same ``Assistant`` the CLI and Python API use. Errors are
JSON naming the field or the problem: ``AssistantError`` keeps its status code
(400 bad input, 409 index state, 503 backend), anything unexpected is a 503
with a message, and answering waits a bounded time for the model.
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from fastapi import FastAPI, File, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field

from assistant.answer import Answer
from assistant.assistant import Assistant
from assistant.errors import AssistantError, ConfigError, InputError
from assistant.settings import LOCAL_GENERATORS
from assistant.web.auth import LOOPBACK, add_token_auth
from assistant.web.ratelimit import RateLimitMiddleware
from assistant.web.service import AnswerService, ingest_uploads

log = logging.getLogger(__name__)


class Turn(BaseModel):
    role: Literal["user", "assistant"]
    content: str


class AskRequest(BaseModel):
    question: str = Field(..., description="The question to answer.", examples=["How is China enforcing its rare earth export restrictions?"])
    k: int | None = Field(None, ge=1, le=50, description="Chunks to retrieve (default: ASSISTANT_K).")
    history: list[Turn] | None = Field(None, description="Earlier turns, oldest first; follow-ups are condensed with them.")
    generator: Literal["llamacpp", "extractive"] | None = Field(None, description="Generator for this question (default: ASSISTANT_LLM).")


class IngestRequest(BaseModel):
    paths: list[str] = Field(..., min_length=1, description="Files or folders on the server to index.")


def _error(status: int, message: str, field: str | None = None, **extra: Any) -> JSONResponse:
    body: dict[str, Any] = {"error": message}
    if field:
        body["field"] = field
    body.update(extra)
    return JSONResponse(body, status_code=status)


def _sse(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def create_app(assistant: Assistant | None = None, with_ui: bool = True) -> FastAPI:
    """Build the FastAPI app; the chat UI is mounted at ``/`` unless ``with_ui`` is False."""
    assistant = assistant or Assistant()
    service = AnswerService(assistant)
    app = FastAPI(
        title="Assistant",
        description="Cited answers over your documents. Every sentence of an answer carries [n] markers "
        "pointing at exact character spans of the sources.",
        version="0.1.0",
    )
    app.state.assistant = assistant
    app.state.service = service

    @app.exception_handler(AssistantError)
    async def _assistant_error(_: Request, exc: AssistantError) -> JSONResponse:
        return _error(exc.status_code, str(exc), type=type(exc).__name__)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        first = errors[0] if errors else {}
        loc = [str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path")]
        if first.get("type") == "json_invalid":
            loc = []  # the location is a character offset into the body, not a field
        field = ".".join(loc) or "body"
        message = f"{field}: {first.get('msg', 'invalid value')}"
        detail = [{"loc": list(e.get("loc", ())), "msg": e.get("msg"), "type": e.get("type")} for e in errors]
        return _error(422, message, field, detail=detail)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("request failed")
        return _error(503, f"The assistant failed: {type(exc).__name__}: {exc}. See the server log.")

    def check(req: AskRequest) -> None:
        try:
            service.check_question(req.question)
        except InputError as exc:
            raise _FieldError("question", str(exc)) from None

    @app.exception_handler(_FieldError)
    async def _field_error(_: Request, exc: _FieldError) -> JSONResponse:
        return _error(exc.status, exc.message, exc.field)

    @app.get("/api/health", tags=["meta"])
    def health() -> dict[str, Any]:
        """Liveness plus what is indexed and which generator answers."""
        return {
            "status": "ok",
            "documents": len(assistant.index.manifest().documents),
            "chunks": assistant.index.count_chunks(),
            "generator": assistant.settings.llm,
            "generators": list(LOCAL_GENERATORS),
        }

    @app.get("/api/documents", tags=["documents"])
    def documents() -> list[dict[str, Any]]:
        """Indexed documents: id, title, sections, newest date, suggested questions."""
        return assistant.documents()

    @app.get("/api/documents/{doc_id}", tags=["documents"])
    def document(doc_id: str) -> dict[str, Any]:
        """The full text of one document; citation ``start``/``end`` index into ``text``."""
        known = {d["id"]: d for d in assistant.documents()}
        if doc_id not in known:
            raise _FieldError("doc_id", f"Unknown document {doc_id!r}; list documents with GET /api/documents.", 404)
        return {"id": doc_id, "title": known[doc_id]["title"], "text": assistant.document_text(doc_id)}

    @app.get("/api/suggestions", tags=["documents"])
    def suggestions() -> list[str]:
        """The corpus's own 'Go deeper' questions."""
        return assistant.suggested_questions()

    @app.post("/api/ask", tags=["answers"])
    def ask(req: AskRequest) -> dict[str, Any]:
        """Answer a question; the body is ``Answer.to_dict()``."""
        check(req)
        history = [t.model_dump() for t in req.history or []]
        return service.ask(req.question, k=req.k, history=history, generator=req.generator).to_dict()

    @app.post("/api/ask/stream", tags=["answers"])
    def ask_stream(req: AskRequest) -> StreamingResponse:
        """Server-sent events: ``token`` events (JSON strings), then one ``answer`` event
        (``Answer.to_dict()``), or an ``error`` event ``{"error", "status"}``."""
        check(req)
        history = [t.model_dump() for t in req.history or []]
        events = service.stream(req.question, k=req.k, history=history, generator=req.generator)
        first = next(events)  # index and busy errors become a plain 4xx/503 before streaming starts

        def sse() -> Iterator[str]:
            try:
                for event in _chain_first(first, events):
                    if isinstance(event, Answer):
                        yield _sse("answer", event.to_dict())
                    else:
                        yield _sse("token", event)
            except AssistantError as exc:
                yield _sse("error", {"error": str(exc), "status": exc.status_code})
            except Exception as exc:
                log.exception("streaming failed")
                yield _sse("error", {"error": f"The assistant failed: {type(exc).__name__}: {exc}", "status": 503})
            finally:
                events.close()

        return StreamingResponse(
            sse(), media_type="text/event-stream", headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        )

    @app.post("/api/ingest", tags=["documents"])
    def ingest(req: IngestRequest) -> dict[str, Any]:
        """Index files or folders that are on the server; returns the ingest report.

        Only paths inside the server's working folder are accepted, so an API
        client cannot make the server read (and then serve) arbitrary files.
        """
        root = Path.cwd().resolve()
        for raw in req.paths:
            resolved = Path(raw).resolve()
            if resolved != root and root not in resolved.parents:
                raise _FieldError(
                    "paths", f"{raw!r} is outside the server's folder {root}; copy it there or use /api/upload.", 403
                )
        return assistant.ingest(req.paths).to_dict()

    @app.post("/api/upload", tags=["documents"])
    def upload(files: list[UploadFile] = File(..., description=".txt or .md files")) -> dict[str, Any]:  # noqa: B008
        """Upload documents (multipart); saved under the index folder and indexed.
        Refused files are listed with the reason; the others are still added."""
        with tempfile.TemporaryDirectory(prefix="assistant-upload-") as tmp:
            pairs = []
            limit = assistant.settings.max_file_bytes
            for i, item in enumerate(files):
                path = Path(tmp) / f"{i}.upload"
                with path.open("wb") as fh:
                    size = 0
                    while size <= limit and (chunk := item.file.read(1 << 20)):
                        # Past the limit one byte is enough to refuse it; do not fill the disk.
                        fh.write(chunk[: limit + 1 - size])
                        size += len(chunk)
                pairs.append((item.filename or "upload", path))
            return ingest_uploads(assistant, pairs).to_dict()

    # OpenAI-compatible chat completions (/v1), also before the '/' mount shadows it.
    from assistant.web.openai_routes import router as openai_router

    app.include_router(openai_router)
    # Before mounting the chat at '/', which would shadow the login route.
    token = assistant.settings.api_token
    if token is not None and token.get_secret_value():
        add_token_auth(app, token.get_secret_value())
    if with_ui:
        import gradio as gr

        from assistant.web.chat.app import build_ui, ui_assets

        app = gr.mount_gradio_app(
            app,
            build_ui(assistant, service),
            path="/",
            max_file_size=assistant.settings.max_file_bytes,
            footer_links=["api"],
            **ui_assets(),
        )
    # Outermost: remote clients over their budget get a quick 429 (loopback is exempt),
    # before auth, so token guessing on /login is limited too.
    app.add_middleware(RateLimitMiddleware)
    return app


class _FieldError(Exception):
    def __init__(self, field: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.field, self.message, self.status = field, message, status


def _chain_first(first, rest):
    yield first
    yield from rest


def check_bind(host: str, assistant: Assistant) -> None:
    """Refuse a non-loopback address unless an API token protects the server."""
    token = assistant.settings.api_token
    if host not in LOOPBACK and not (token and token.get_secret_value()):
        raise ConfigError(
            f"Refusing to listen on {host}: anyone who can reach it could read and change the index. "
            "Set ASSISTANT_API_TOKEN to a long random secret (clients send 'Authorization: Bearer <token>'; "
            "browsers log in once), or bind --host 127.0.0.1."
        )


def run_server(host: str = "127.0.0.1", port: int = 7860, assistant: Assistant | None = None) -> None:
    """Serve the chat and the API on ``host:port``."""
    import uvicorn

    assistant = assistant or Assistant()
    check_bind(host, assistant)
    print(f"Loading models for {assistant.settings.index_dir} ...", flush=True)
    assistant.warm_up()
    app = create_app(assistant)
    shown = f"[{host}]" if ":" in host else host
    print(f"Serving the chat on http://{shown}:{port}/ (API docs at http://{shown}:{port}/docs)", flush=True)
    uvicorn.run(app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=5)
