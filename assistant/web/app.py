"""One server: the JSON HTTP API (FastAPI) with the Gradio chat mounted at ``/``.

This module only assembles the app; the routes live in ``routes`` (``/api``),
``collection_routes`` (``/api/collections``), ``conversation_routes``
(``/api/conversations``, ``/api/feedback``) and
``openai_routes`` (``/v1``), errors become JSON in ``error_responses``, and
every answer goes through one ``AnswerService`` (validation, lock, generator
check) whichever surface asks. ``run_server`` refuses to listen
beyond loopback without a token.
"""

from __future__ import annotations

from fastapi import FastAPI

from assistant.assistant import Assistant
from assistant.errors import ConfigError
from assistant.web import collection_routes, conversation_routes, openai_routes, routes
from assistant.web.auth import LOOPBACK, add_token_auth
from assistant.web.error_responses import install_error_handlers
from assistant.web.owner import add_browser_session
from assistant.web.ratelimit import RateLimitMiddleware
from assistant.web.service import AnswerService


def create_app(assistant: Assistant | None = None, with_ui: bool = True) -> FastAPI:
    """Build the FastAPI app; the chat UI is mounted at ``/`` unless ``with_ui`` is False.

    Args:
        assistant: what answers; built from the environment when None.
        with_ui: mount the Gradio chat (tests of the API alone leave it out).
    """
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
    install_error_handlers(app)
    # Every router before the '/' mount, which would shadow them.
    app.include_router(routes.router)
    app.include_router(collection_routes.router)
    app.include_router(conversation_routes.router)
    app.include_router(openai_routes.router)
    # Before mounting the chat at '/', which would shadow the login route.
    token = assistant.settings.api_token
    if token is not None and token.get_secret_value():
        # /v1 checks the bearer token itself, in the error shape OpenAI clients parse.
        add_token_auth(app, token.get_secret_value(), self_guarded=openai_routes.GUARDED_PATHS)
    else:
        add_browser_session(app)  # no token: each browser's conversations are its own
    if with_ui:
        app = _mount_chat(app, assistant, service)
    # Outermost: remote clients over their budget get a quick 429 (loopback is exempt),
    # before auth, so token guessing on /login is limited too.
    app.add_middleware(RateLimitMiddleware)
    return app


def _mount_chat(app: FastAPI, assistant: Assistant, service: AnswerService) -> FastAPI:
    # Gradio is imported here: an API-only app (and its tests) should not pay for it.
    import gradio as gr

    from assistant.web.chat.app import build_ui, ui_assets

    return gr.mount_gradio_app(
        app,
        build_ui(assistant, service),
        path="/",
        max_file_size=assistant.settings.max_file_bytes,
        footer_links=["api"],
        **ui_assets(),
    )


def check_database(assistant: Assistant) -> None:
    """Open the shared conversations database (ASSISTANT_DATABASE_URL) before serving anyone.

    Replicas behind a load balancer keep conversations there: one that is down or misnamed
    should stop this replica at start-up (``assistant serve`` exits 2 naming the URL, password
    masked), not fail every user's first saved conversation while health checks pass.
    """
    if assistant.settings.database_url is None:
        return  # SQLite beside the index: created on first use
    from assistant.conversations.store import masked_url

    print(f"Opening the conversations database {masked_url(assistant.conversations.url)} ...", flush=True)
    assistant.conversations.check()


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
    check_database(assistant)
    print(f"Loading models for {assistant.settings.index_dir} ...", flush=True)
    assistant.warm_up()
    app = create_app(assistant)
    shown = f"[{host}]" if ":" in host else host
    print(f"Serving the chat on http://{shown}:{port}/ (API docs at http://{shown}:{port}/docs)", flush=True)
    uvicorn.run(app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=5)
