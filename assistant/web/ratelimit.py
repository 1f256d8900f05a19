"""A small per-client rate limiter for the HTTP API (pure ASGI middleware, token buckets).

Each client (its IP address) gets a bucket of ``burst`` requests that refills at ``rate_per_s``. A
request that finds the bucket empty gets an immediate ``429`` with a
``Retry-After`` header instead of queueing behind the (serialised) model, so
one noisy client cannot starve the others and nobody waits into a timeout.

Loopback clients are exempt by default: on 127.0.0.1 the only client is the
user's own browser or scripts (and the load tests). When the server is
exposed (``--host 0.0.0.0`` with ``ASSISTANT_API_TOKEN``) remote clients are
limited. Usage, in ``server.create_app``, after ``add_token_auth`` so the limiter
is the outermost middleware and token guessing is limited too::

    app.add_middleware(RateLimitMiddleware)
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})
#: Paths the limit applies to: the JSON API, the OpenAI-compatible /v1 routes, the chat's own
#: endpoints and the login form; static assets and docs are free.
LIMITED_PREFIXES = ("/api/", "/v1/", "/gradio_api/", "/login")


class TokenBucketLimiter:
    """Per-key token buckets with bounded memory (least recently seen keys are forgotten).

    Thread-safe: FastAPI runs sync routes in a thread pool, and the clock is
    injectable so tests need not sleep.
    """

    def __init__(
        self,
        rate_per_s: float = 2.0,
        burst: int = 20,
        max_clients: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate_per_s <= 0 or burst < 1:
            raise ValueError(f"rate_per_s must be > 0 and burst >= 1, got {rate_per_s} and {burst}")
        self.rate_per_s = float(rate_per_s)
        self.burst = int(burst)
        self.max_clients = max_clients
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key -> (tokens, last)
        self._lock = threading.Lock()

    def acquire(self, key: str) -> float:
        """Take one token for ``key``; return 0.0 if allowed, else seconds until one is free."""
        now = self._clock()
        with self._lock:
            tokens, last = self._buckets.pop(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.rate_per_s)
            if tokens >= 1.0:
                tokens -= 1.0
                wait = 0.0
            else:
                wait = (1.0 - tokens) / self.rate_per_s
            self._buckets[key] = (tokens, now)  # most recently seen goes last
            while len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)
            return wait

    def __len__(self) -> int:
        return len(self._buckets)


def client_key(scope: dict[str, Any]) -> str:
    """Who is asking: the client's IP address.

    Not the bearer token: someone guessing tokens would get a fresh bucket
    with every guess. (Behind a reverse proxy every client shares the proxy's
    address; run the limiter in the proxy there instead.)
    """
    client = scope.get("client")
    return "ip:" + (client[0] if client else "unknown")


class RateLimitMiddleware:
    """ASGI middleware: ``429 {"error": ...}`` with ``Retry-After`` when a client is over its limit."""

    def __init__(
        self,
        app: Any,
        rate_per_s: float = 2.0,
        burst: int = 20,
        exempt_loopback: bool = True,
        prefixes: tuple[str, ...] = LIMITED_PREFIXES,
        limiter: TokenBucketLimiter | None = None,
    ) -> None:
        self.app = app
        self.limiter = limiter or TokenBucketLimiter(rate_per_s=rate_per_s, burst=burst)
        self.exempt_loopback = exempt_loopback
        self.prefixes = prefixes

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope.get("type") != "http" or not scope.get("path", "").startswith(self.prefixes):
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        if self.exempt_loopback and client and client[0] in LOOPBACK_HOSTS:
            await self.app(scope, receive, send)
            return
        wait = self.limiter.acquire(client_key(scope))
        if wait <= 0:
            await self.app(scope, receive, send)
            return
        retry = max(1, math.ceil(wait))
        body = json.dumps(
            {
                "error": f"Too many requests from this client; retry in {retry}s "
                f"(limit: {self.limiter.burst} at once, {self.limiter.rate_per_s:g} per second).",
                "retry_after": retry,
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 429,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"retry-after", str(retry).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
