"""Token protection and backend failures, against a real server.

This server needs a token and answers with an OpenAI-compatible backend that
is down, so a question reaches the model and fails: the API must say so with
a 503 quickly rather than hang.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.live_server import ROOT, LiveServer, free_port, shared_server, start_server

pytestmark = pytest.mark.integration
TOKEN = "s3cret-token-for-tests"
QUESTION = "Which company opened the Wyoming rare earth magnet plant?"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    corpus = tmp_path_factory.mktemp("corpus")
    (corpus / "magnets.txt").write_text(
        "Rare earth magnets\n\nMP Materials opened the Wyoming rare earth magnet plant in 2025, "
        "the company said.\n",
        encoding="utf-8",
    )
    dead = free_port()  # nothing listens here
    env = {
        "ASSISTANT_LLM": "openai",
        "ASSISTANT_OPENAI_BASE_URL": f"http://127.0.0.1:{dead}/v1",
        "ASSISTANT_OPENAI_MODEL": "nothing",
        "ASSISTANT_LLM_RETRIES": "0",
        "ASSISTANT_LLM_TIMEOUT_S": "5",
        "ASSISTANT_ABSTAIN_THRESHOLD": "0.1",
    }
    shared_server(wait=False)  # the other API/browser tests' server boots meanwhile
    live = start_server(ingest=[corpus], env=env, token=TOKEN, fake_embeddings=True)
    yield live
    live.stop()


def test_api_requires_the_bearer_token(server: LiveServer) -> None:
    for path in ("/api/health", "/api/documents", "/openapi.json"):
        res = httpx.get(server.url + path, timeout=10)
        assert res.status_code == 401, path
        assert res.json()["field"] == "Authorization"
    wrong = httpx.get(server.url + "/api/health", headers={"Authorization": "Bearer nope"}, timeout=10)
    assert wrong.status_code == 401
    res = httpx.post(server.url + "/api/ask", json={"question": QUESTION}, timeout=10)
    assert res.status_code == 401
    ok = httpx.get(server.url + "/api/health", headers=server.headers(), timeout=10)
    assert ok.status_code == 200 and ok.json()["documents"] == 1


def test_ui_asks_for_the_token_then_sets_a_session(server: LiveServer) -> None:
    page = httpx.get(server.url + "/", timeout=10)
    assert page.status_code == 401 and 'name="token"' in page.text
    assert httpx.get(server.url + "/gradio_api/info", timeout=10).status_code == 401
    with httpx.Client(base_url=server.url, timeout=30, follow_redirects=True) as browser:
        bad = browser.post("/login", data={"token": "wrong", "next": "/"})
        assert bad.status_code == 401 and "not right" in bad.text
        good = browser.post("/login", data={"token": TOKEN, "next": "//evil.example/"})
        assert good.status_code == 200 and str(good.url) == server.url + "/"  # no open redirect
        assert "gradio" in good.text.lower()
        assert browser.get("/api/documents").status_code == 200  # the viewer's fetches work too
    with httpx.Client(base_url=server.url, timeout=30) as linked:
        res = linked.get(f"/?token={TOKEN}")
        assert res.status_code == 303 and res.headers["location"] == "/"
        assert linked.get("/api/health").status_code == 200


def test_backend_down_is_a_quick_503_with_a_message(server: LiveServer) -> None:
    started = time.monotonic()
    res = httpx.post(server.url + "/api/ask", json={"question": QUESTION}, headers=server.headers(), timeout=60)
    assert res.status_code == 503, res.text
    assert "openai" in res.json()["error"].lower()
    res = httpx.post(server.url + "/api/ask/stream", json={"question": QUESTION}, headers=server.headers(), timeout=60)
    assert res.status_code == 503 or "event: error" in res.text
    assert time.monotonic() - started < 45
    # The extractive generator still answers on the same server.
    res = httpx.post(
        server.url + "/api/ask",
        json={"question": QUESTION, "generator": "extractive"},
        headers=server.headers(),
        timeout=60,
    )
    assert res.status_code == 200 and "MP Materials" in res.json()["text"]


def test_refuses_a_public_address_without_a_token(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "ASSISTANT_API_TOKEN"}
    env["ASSISTANT_INDEX_DIR"] = str(tmp_path / "index")
    proc = subprocess.run(
        [sys.executable, "-m", "assistant.cli", "serve", "--host", "0.0.0.0", "--port", str(free_port())],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "ASSISTANT_API_TOKEN" in proc.stderr and "0.0.0.0" in proc.stderr
