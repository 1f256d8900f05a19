"""Whose conversations a chat event may touch: the owner of the request behind it.

The rule itself (token holder, else the browser's session cookie, else
"local") is ``web/owner.owner_for``, shared with the JSON API; this module
only digs the cookies out of a ``gr.Request``. Gradio copies them from the
request that joined the queue, but the shape differs between a live request
and a pickled one, so the ``Cookie`` header is the fallback.
"""

from __future__ import annotations

from http.cookies import CookieError, SimpleCookie
from typing import Any

from assistant.settings import Settings
from assistant.web.owner import owner_for


def request_cookies(request: Any) -> dict[str, str]:
    """The request's cookies as a plain dict (empty without a request)."""
    if request is None:
        return {}
    try:
        cookies = request.cookies
        if cookies is not None:
            return {str(k): str(v) for k, v in dict(cookies).items()}
    except (AttributeError, TypeError, ValueError):
        pass
    try:
        header = request.headers.get("cookie") or ""
    except AttributeError:
        return {}
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(str(header))
    except CookieError:
        return {}
    return {name: morsel.value for name, morsel in jar.items()}


def owner_of(settings: Settings, request: Any) -> str:
    """The owner of the chat event's request under ``settings``."""
    return owner_for(settings, request_cookies(request))
