"""Token protection for the one server (API and chat) when it is reachable by others.

The API takes ``Authorization: Bearer <token>``. A browser logs in once on a
small form (or opens ``/?token=<token>``) and then carries an HttpOnly cookie,
which also covers the chat's own requests and the document viewer's fetches.

The OpenAI-compatible routes under ``/v1`` check the bearer token themselves
(``bearer_matches``), so that they work mounted on any app and answer in the
error shape OpenAI clients parse; the middleware leaves exactly those paths
alone, so each request is checked once.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Collection
from html import escape
from urllib.parse import parse_qs, urlencode

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

LOOPBACK = {"127.0.0.1", "localhost", "::1"}
COOKIE = "assistant_session"
LOGIN_PATH = "/login"
_API_PREFIXES = ("/api/", "/v1/", "/docs", "/redoc", "/openapi.json")


def bearer_matches(request: Request, token: str) -> bool:
    """Whether ``request`` carries ``Authorization: Bearer <token>`` (compared in constant time)."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(), token.encode())


def _session_value(token: str) -> str:
    # The cookie holds a MAC of the token, not the token itself.
    return hmac.new(token.encode(), b"assistant-ui-session", hashlib.sha256).hexdigest()


def _login_page(next_path: str, failed: bool) -> str:
    note = '<p class="err">That token is not right.</p>' if failed else ""
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Sign in · Ask the documents</title>
<style>body{{font-family:system-ui,sans-serif;display:flex;min-height:100vh;align-items:center;justify-content:center;margin:0;background:#f3f4f6}}
form{{background:#fff;padding:24px;border-radius:12px;box-shadow:0 6px 24px #0002;width:min(360px,90vw)}}
input,button{{font:inherit;width:100%;box-sizing:border-box;padding:8px;margin-top:8px}}.err{{color:#b91c1c}}</style></head>
<body><form method="post" action="{LOGIN_PATH}"><h1>Ask the documents</h1>
<p>This server needs its access token (ASSISTANT_API_TOKEN).</p>{note}
<input type="password" name="token" autocomplete="current-password" placeholder="Access token" required autofocus>
<input type="hidden" name="next" value="{escape(next_path, quote=True)}"><button type="submit">Sign in</button></form></body></html>"""


def _safe_next(value: str) -> str:
    # Only same-site paths: no scheme, no host, no '//' open redirect.
    return value if value.startswith("/") and not value.startswith("//") else "/"


def add_token_auth(app: FastAPI, token: str, self_guarded: Collection[str] = ()) -> None:
    """Require ``token`` on every route of ``app`` except the login form.

    Args:
        app: the app to protect.
        token: the secret clients send.
        self_guarded: exact paths whose routes check the bearer token themselves.
    """
    session = _session_value(token)

    def authorised(request: Request) -> bool:
        if bearer_matches(request, token):
            return True
        cookie = request.cookies.get(COOKIE, "")
        return bool(cookie) and hmac.compare_digest(cookie.encode(), session.encode())

    def set_session(response, secure: bool):
        response.set_cookie(COOKIE, session, httponly=True, samesite="strict", secure=secure, path="/")
        return response

    @app.post(LOGIN_PATH, include_in_schema=False)
    async def login(request: Request):
        form = parse_qs((await request.body()).decode("utf-8", "replace"))
        given = (form.get("token") or [""])[0]
        target = _safe_next((form.get("next") or ["/"])[0])
        if not hmac.compare_digest(given.encode(), token.encode()):
            return HTMLResponse(_login_page(target, failed=True), status_code=401)
        return set_session(RedirectResponse(target, status_code=303), request.url.scheme == "https")

    @app.middleware("http")
    async def require_token(request: Request, call_next):
        path = request.url.path
        if (path == LOGIN_PATH and request.method == "POST") or path in self_guarded:
            return await call_next(request)
        if authorised(request):
            return await call_next(request)
        given = request.query_params.get("token")
        if given is not None and hmac.compare_digest(given.encode(), token.encode()) and request.method == "GET":
            rest = {k: v for k, v in request.query_params.items() if k != "token"}
            target = path + (f"?{urlencode(rest)}" if rest else "")
            return set_session(RedirectResponse(target, status_code=303), request.url.scheme == "https")
        if path.startswith(_API_PREFIXES) or request.method != "GET" or path.startswith("/gradio_api"):
            return JSONResponse(
                {"error": "Missing or wrong token: send 'Authorization: Bearer <ASSISTANT_API_TOKEN>'.",
                 "field": "Authorization"},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        return HTMLResponse(_login_page(_safe_next(path), failed=False), status_code=401)
