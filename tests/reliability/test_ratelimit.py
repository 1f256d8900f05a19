"""The per-client rate limiter (assistant/ratelimit.py): buckets, memory bound, and the middleware on the real app."""

from __future__ import annotations

import time

import pytest
from starlette.testclient import TestClient

from assistant.web.ratelimit import RateLimitMiddleware, TokenBucketLimiter, client_key
from tests.reliability.conftest import record


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_bucket_allows_a_burst_then_refills_at_the_rate():
    clock = Clock()
    limiter = TokenBucketLimiter(rate_per_s=2.0, burst=5, clock=clock)
    assert [limiter.acquire("a") for _ in range(5)] == [0.0] * 5
    wait = limiter.acquire("a")
    assert wait == pytest.approx(0.5)  # one token every 0.5 s
    assert limiter.acquire("b") == 0.0  # other clients are not affected
    clock.now += 0.5
    assert limiter.acquire("a") == 0.0 and limiter.acquire("a") > 0
    clock.now += 100
    assert [limiter.acquire("a") for _ in range(5)] == [0.0] * 5  # capped at the burst
    assert limiter.acquire("a") > 0


def test_memory_is_bounded_and_bad_parameters_are_refused():
    limiter = TokenBucketLimiter(rate_per_s=1, burst=1, max_clients=100)
    for i in range(1000):
        limiter.acquire(f"ip:{i}")
    assert len(limiter) == 100
    with pytest.raises(ValueError):
        TokenBucketLimiter(rate_per_s=0)


def test_client_key_is_the_address_so_guessing_tokens_does_not_reset_the_bucket():
    guesses = [{"client": ("203.0.113.9", 5000 + i), "headers": [(b"authorization", f"Bearer guess{i}".encode())]}
               for i in range(3)]
    assert {client_key(scope) for scope in guesses} == {"ip:203.0.113.9"}


@pytest.fixture
def app(make_assistant, seeds_copy):
    from assistant.web.app import create_app

    assistant = make_assistant()
    assistant.ingest([seeds_copy])
    app = create_app(assistant, with_ui=False)
    app.add_middleware(RateLimitMiddleware, rate_per_s=1.0, burst=3)
    return app


def test_middleware_returns_429_quickly_to_a_noisy_remote_client_only(app):
    noisy = TestClient(app, client=("203.0.113.5", 40000))
    quiet = TestClient(app, client=("198.51.100.7", 40000))
    local = TestClient(app, client=("127.0.0.1", 40000))
    codes, slowest = [], 0.0
    for _ in range(6):
        t0 = time.perf_counter()
        r = noisy.get("/api/health")
        slowest = max(slowest, time.perf_counter() - t0)
        codes.append(r.status_code)
    assert codes[:3] == [200, 200, 200] and set(codes[3:]) == {429}
    refused = noisy.post("/api/ask", json={"question": "What did China do?"})
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
    assert "Too many requests" in refused.json()["error"]
    assert quiet.get("/api/health").status_code == 200  # per client
    assert all(local.get("/api/health").status_code == 200 for _ in range(10))  # loopback exempt
    assert noisy.get("/openapi.json").status_code == 200  # docs and assets are not limited
    assert noisy.get("/v1/models").status_code == 429  # the OpenAI-compatible routes are
    record("security", "per-client rate limit (assistant/ratelimit.py)", burst=3, rate_per_s=1.0,
           statuses_for_6_quick_requests=codes, slowest_response_s=round(slowest, 3),
           other_client_unaffected=True, loopback_exempt=True)


def test_added_after_token_auth_it_limits_token_guessing(make_assistant, seeds_copy):
    from assistant.web.app import create_app

    assistant = make_assistant(api_token="the-real-token")
    assistant.ingest([seeds_copy])
    app = create_app(assistant, with_ui=False)
    app.add_middleware(RateLimitMiddleware, rate_per_s=0.5, burst=3)  # the one line for server.py
    guesser = TestClient(app, client=("203.0.113.66", 40000))
    codes = [guesser.get("/api/health", headers={"Authorization": f"Bearer guess-{i}"}).status_code for i in range(6)]
    assert codes == [401, 401, 401, 429, 429, 429]
    record("security", "token guessing from one address", statuses=codes, burst=3)
