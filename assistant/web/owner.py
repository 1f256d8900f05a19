"""Whose conversations a request may see.

With ``ASSISTANT_API_TOKEN`` set, every authorised caller is the token's
holder (the API's bearer and the chat's login cookie alike). Without a
token the server is a loopback, one-user server: a browser gets its own
random session cookie, so the chat's conversations are that browser's, and
a client without the cookie (curl, scripts) is the same ``local`` owner as
the CLI and the Python API.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping

from fastapi import FastAPI, Request

from assistant.conversations.records import LOCAL_OWNER
from assistant.settings import Settings

BROWSER_COOKIE = "assistant_browser"
_COOKIE_CHARS = 32
_ONE_YEAR_S = 365 * 24 * 3600


def token_owner(token: str) -> str:
    # A digest, so the database never holds the secret itself.
    return "token:" + hashlib.sha256(b"assistant-owner:" + token.encode()).hexdigest()[:24]


def owner_for(settings: Settings, cookies: Mapping[str, str]) -> str:
    """The owner of a request with ``cookies`` under ``settings``."""
    token = settings.api_token
    if token is not None and token.get_secret_value():
        return token_owner(token.get_secret_value())
    browser = cookies.get(BROWSER_COOKIE, "")
    if len(browser) == _COOKIE_CHARS and browser.isalnum():
        return f"browser:{browser}"
    return LOCAL_OWNER


def request_owner(request: Request) -> str:
    return owner_for(request.app.state.assistant.settings, request.cookies)


def add_browser_session(app: FastAPI) -> None:
    """Give each browser that opens the chat a session cookie (no token: its conversations are its own)."""

    @app.middleware("http")
    async def browser_session(request: Request, call_next):
        response = await call_next(request)
        wants_page = request.method == "GET" and "text/html" in request.headers.get("accept", "")
        if wants_page and BROWSER_COOKIE not in request.cookies:
            response.set_cookie(
                BROWSER_COOKIE, secrets.token_hex(_COOKIE_CHARS // 2), max_age=_ONE_YEAR_S,
                httponly=True, samesite="lax", secure=request.url.scheme == "https", path="/",
            )
        return response
