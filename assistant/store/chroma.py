"""The Chroma client: embedded or server, with a timeout and retries on every call.

Chroma runs in one of two modes that the rest of the store should not care
about: an embedded persistent store in the index folder, or a ``chroma run``
server shared by several processes and machines (``ASSISTANT_CHROMA_URL``).
Over the network a call can stall or drop, so every request gets a timeout
and every call goes through ``ChromaCaller``, which retries what is transient
with the policy the chat models use (``models/resilient.py``) and turns what
still fails into a ``BackendError`` that says which store failed and what to do.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlparse

from assistant.errors import BackendError, IndexStateError, InputError
from assistant.models.resilient import Failure, RetryPolicy, http_timeout
from assistant.settings import Settings

CHROMA_RETRIES = 2
CHROMA_BACKOFF_S = 0.3
T = TypeVar("T")


def open_chroma_client(settings: Settings) -> Any:
    """Embedded persistent client, or an HTTP client when ``chroma_url`` is set.

    The HTTP client gets a timeout on every request (chromadb's default is
    none, so a stalled server would hang a question forever), and the server
    is probed first so a wrong URL fails in seconds with a clear message.

    Raises:
        BackendError: the server cannot be reached or rejects the token.
    """
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    if settings.chroma_url:
        return _open_http_client(settings, chroma_settings)
    path = settings.collection_dir / "chroma"
    path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(path), settings=chroma_settings)


def _open_http_client(settings: Settings, chroma_settings: Any) -> Any:
    import chromadb
    import httpx

    assert settings.chroma_url is not None
    url = urlparse(settings.chroma_url)
    headers = {}
    if settings.chroma_token:
        headers["Authorization"] = f"Bearer {settings.chroma_token.get_secret_value()}"
    timeout = http_timeout(settings.chroma_timeout_s)
    base = settings.chroma_url.rstrip("/")

    def connect() -> Any:
        httpx.get(f"{base}/api/v2/heartbeat", headers=headers, timeout=timeout).raise_for_status()
        client = chromadb.HttpClient(
            host=url.hostname or "127.0.0.1",
            port=url.port or (443 if url.scheme == "https" else 8000),
            ssl=url.scheme == "https",
            headers=headers,
            settings=chroma_settings,
        )
        _set_http_timeout(client, timeout)
        return client

    def unreachable(exc: Exception, _failure: Failure, _attempts: int) -> BaseException:
        return BackendError(
            f"Cannot reach the Chroma server at ASSISTANT_CHROMA_URL={settings.chroma_url}: "
            f"{type(exc).__name__}: {exc}. Start it (`chroma run --path DIR --host HOST --port N`), "
            "fix the URL or ASSISTANT_CHROMA_TOKEN, or unset ASSISTANT_CHROMA_URL for the embedded store."
        )

    policy = RetryPolicy(CHROMA_RETRIES, CHROMA_BACKOFF_S, f"Chroma server {base}")
    return policy.call(connect, _classify, unreachable, passthrough=())


def _set_http_timeout(client: Any, timeout: Any) -> None:
    """Give chromadb's HTTP session (``timeout=None`` upstream) a real timeout."""
    session = getattr(getattr(client, "_server", None), "_session", None)
    if session is not None:
        session.timeout = timeout


class ChromaCaller:
    """Runs one Chroma call; retries what is transient, then raises a ``BackendError``.

    Our own errors pass through untouched; an error that is not transient
    (a bad id, a programming error) is raised as it is, never retried.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.policy = RetryPolicy(CHROMA_RETRIES, CHROMA_BACKOFF_S, "Chroma call")

    def __call__(self, fn: Callable[[], T]) -> T:
        return self.policy.call(fn, _classify, self._give_up,
                                passthrough=(InputError, IndexStateError, BackendError))

    def _give_up(self, exc: Exception, failure: Failure, attempts: int) -> BaseException | None:
        if not failure.retry:
            return None
        if self.settings.chroma_url:
            return BackendError(
                f"The Chroma server at ASSISTANT_CHROMA_URL={self.settings.chroma_url} "
                f"failed after {attempts} attempts: {type(exc).__name__}: {exc}. "
                "Check that it is running and reachable (`chroma run --path DIR --host "
                "HOST --port N`), then retry; or unset ASSISTANT_CHROMA_URL."
            )
        return BackendError(
            f"The embedded Chroma store in {self.settings.collection_dir} failed: "
            f"{type(exc).__name__}: {exc}. Check the disk, then retry."
        )


def _classify(exc: Exception) -> Failure:
    transient = is_connection_error(exc)
    return Failure("connect" if transient else "other", f"{type(exc).__name__}: {exc}", transient)


def is_connection_error(exc: Exception) -> bool:
    """Transient failures worth a retry: network errors, timeouts, HTTP 5xx/429.

    Chroma's own classifier, not the chat models' ``classify_failure``:
    chromadb wraps server errors in generic exceptions whose message is all
    that says "connection refused", and a ``ValueError`` from Chroma is a bad
    request, not the malformed reply it would be from a chat server.
    """
    names = {cls.__name__ for cls in type(exc).__mro__}
    if names & {"TransportError", "TimeoutException", "ConnectionError", "TimeoutError",
                "InternalError", "RemoteProtocolError"}:
        return True
    status = getattr(getattr(exc, "response", None), "status_code", None)
    if isinstance(status, int) and (status >= 500 or status == 429):
        return True
    text = f"{type(exc).__name__} {exc}".lower()
    return any(
        marker in text
        for marker in ("connect", "timeout", "timed out", "refused", "unavailable", "503", "502", "reset")
    )
