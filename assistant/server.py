"""One server: the JSON HTTP API (FastAPI) with the Gradio chat mounted at ``/``."""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field

from .assistant import Assistant
from .errors import AssistantError, ConfigError
from .types import Answer

log = logging.getLogger(__name__)
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


class AskRequest(BaseModel):
    question: str = Field(..., description="The question to answer.")
    k: int | None = Field(None, ge=1, le=50)
    history: list[Any] | None = None


class IngestRequest(BaseModel):
    paths: list[str] = Field(..., min_length=1)


def create_app(assistant: Assistant | None = None, with_ui: bool = True) -> FastAPI:
    """Build the FastAPI app; the chat UI is mounted unless ``with_ui`` is False."""
    assistant = assistant or Assistant()
    app = FastAPI(title="Assistant", description="Cited answers over your documents.", version="0.1.0")
    app.state.assistant = assistant

    @app.exception_handler(AssistantError)
    async def _assistant_error(_: Request, exc: AssistantError) -> JSONResponse:
        return JSONResponse({"error": str(exc), "type": type(exc).__name__}, status_code=exc.status_code)

    @app.get("/api/health")
    def health() -> dict[str, Any]:
        return {
            "status": "ok",
            "documents": len(assistant.index.manifest().documents),
            "chunks": assistant.index.count_chunks(),
            "generator": assistant.settings.llm,
        }

    @app.get("/api/documents")
    def documents() -> list[dict[str, Any]]:
        return assistant.documents()

    @app.post("/api/ask")
    def ask(req: AskRequest) -> dict[str, Any]:
        return assistant.ask(req.question, k=req.k, history=req.history).to_dict()

    @app.post("/api/ask/stream")
    def ask_stream(req: AskRequest) -> StreamingResponse:
        events = assistant.stream(req.question, k=req.k, history=req.history)
        first = next(events)  # raise validation errors as 4xx before streaming starts

        def sse():
            try:
                for event in _chain_first(first, events):
                    if isinstance(event, Answer):
                        yield f"event: answer\ndata: {json.dumps(event.to_dict())}\n\n"
                    else:
                        yield f"event: token\ndata: {json.dumps(event)}\n\n"
            except AssistantError as exc:
                yield f"event: error\ndata: {json.dumps({'error': str(exc)})}\n\n"

        return StreamingResponse(sse(), media_type="text/event-stream")

    @app.post("/api/ingest")
    def ingest(req: IngestRequest) -> dict[str, Any]:
        return assistant.ingest(req.paths).to_dict()

    if with_ui:
        import gradio as gr

        from .ui import build_ui

        app = gr.mount_gradio_app(app, build_ui(assistant), path="/")
    return app


def _chain_first(first, rest):
    yield first
    yield from rest


def run_server(host: str = "127.0.0.1", port: int = 7860, assistant: Assistant | None = None) -> None:
    """Serve on ``host:port``; refuses a non-loopback address without an API token."""
    import uvicorn

    assistant = assistant or Assistant()
    if host not in LOOPBACK and not assistant.settings.api_token:
        raise ConfigError(
            f"Refusing to listen on {host}: anyone on the network could use it. Set "
            "ASSISTANT_API_TOKEN to a secret, or bind --host 127.0.0.1."
        )
    assistant.warm_up()
    app = create_app(assistant)
    print(f"Serving the chat on http://{host}:{port}/ (API docs at /docs)", flush=True)
    uvicorn.run(app, host=host, port=port, log_level="warning")
