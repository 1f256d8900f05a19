"""Saved conversations against real servers: they survive a restart and stay their owner's.

Two servers (``run_server`` in subprocesses on 127.0.0.1, extractive
generator, hashing embeddings: this tests storage and ownership, not
retrieval) share one conversations folder, as replicas would:

- ``browser``: no token, so each browser cookie is its own owner; it is
  stopped and started again on the same index and folder mid-test;
- ``guarded``: ``ASSISTANT_API_TOKEN`` set, so every caller with the token is
  its holder, whatever cookie it sends.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from assistant.conversations import ConversationStore
from assistant.web.owner import BROWSER_COOKIE
from tests.e2e.live_server import SEEDS, LiveServer, start_server

pytestmark = pytest.mark.integration

QUESTION = "How is China enforcing its rare earth export restrictions?"
FOLLOW_UP = "What about smuggling?"
CORRECTION = "China requires licences for exports of seven rare earths and their magnets."
TOKEN = "integration-conversations-token-7c4e1a"
ALICE = {BROWSER_COOKIE: "a1" * 16}
BOB = {BROWSER_COOKIE: "b2" * 16}


def _start(index_dir: Path, data_dir: Path, ingest: bool, token: str | None = None, wait: bool = True) -> LiveServer:
    env = {"ASSISTANT_INDEX_DIR": str(index_dir), "ASSISTANT_DATA_DIR": str(data_dir)}
    return start_server(ingest=[SEEDS] if ingest else [], env=env, token=token, fake_embeddings=True, wait=wait)


@pytest.fixture(scope="module")
def folders() -> Iterator[dict[str, Path]]:
    # Not tmp_path: LiveServer.stop() removes only its own work folder, these must outlive a restart.
    with tempfile.TemporaryDirectory(prefix="assistant-conversations-") as tmp:
        root = Path(tmp)
        yield {"index": root / "index", "guarded_index": root / "guarded-index", "data": root / "data"}


@pytest.fixture(scope="module")
def guarded(folders) -> Iterator[LiveServer]:
    server = _start(folders["guarded_index"], folders["data"], ingest=True, token=TOKEN)
    try:
        yield server
    finally:
        server.stop()


def _client(server: LiveServer, cookies: dict[str, str] | None = None, token: str | None = None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=server.url, cookies=cookies, headers=headers, timeout=60)


def _ok(res: httpx.Response, status: int = 200) -> dict:
    assert res.status_code == status, (res.request.method, str(res.request.url), res.text)
    return res.json()


def test_a_conversation_and_its_feedback_survive_a_restart(folders) -> None:
    first_run = _start(folders["index"], folders["data"], ingest=True)
    try:
        with _client(first_run, ALICE) as alice:
            cid = _ok(alice.post("/api/conversations", json={}), 201)["id"]
            one = _ok(alice.post("/api/ask", json={"question": QUESTION, "conversation_id": cid}))
            two = _ok(alice.post("/api/ask", json={"question": FOLLOW_UP, "conversation_id": cid}))
            assert QUESTION in two["metadata"]["query"]  # the follow-up read the saved first turn
            rated = _ok(alice.post("/api/feedback", json={
                "turn_id": one["turn_id"], "rating": "down", "comment": "Too vague.",
                "correction": CORRECTION, "facts": ["licences"],
            }), 201)
    finally:
        first_run.stop()
    assert first_run.process.poll() is not None

    second_run = _start(folders["index"], folders["data"], ingest=False)
    try:
        with _client(second_run, ALICE) as alice:
            assert [c["id"] for c in _ok(alice.get("/api/conversations"))] == [cid]
            saved = _ok(alice.get(f"/api/conversations/{cid}"))
            assert saved["title"] == QUESTION
            assert [(t["position"], t["question"], t["id"]) for t in saved["turns"]] == [
                (0, QUESTION, one["turn_id"]), (1, FOLLOW_UP, two["turn_id"])]
            assert saved["turns"][0]["answer"]["text"] == one["text"]
            assert saved["turns"][0]["answer"]["citations"] == one["citations"]
            assert saved["turns"][0]["feedback"] == rated
            assert rated["correction"] == CORRECTION and saved["turns"][1]["feedback"] is None
            # A follow-up after the restart still reads the conversation from the database.
            three = _ok(alice.post("/api/ask", json={"question": "And who disclosed them?", "conversation_id": cid}))
            assert FOLLOW_UP in three["metadata"]["query"]
            assert [t["position"] for t in _ok(alice.get(f"/api/conversations/{cid}"))["turns"]] == [0, 1, 2]
        for cookies in (BOB, None):  # another browser, and a cookie-less script ("local")
            with _client(second_run, cookies) as other:
                assert _ok(other.get("/api/conversations")) == []
                res = other.get(f"/api/conversations/{cid}")
                assert res.status_code == 404 and res.json()["code"] == "not_found"
    finally:
        second_run.stop()


def test_with_a_token_only_the_holder_sees_its_conversations_whatever_the_cookie(guarded, folders) -> None:
    # A browser's conversation, written into the shared folder by another process.
    store = ConversationStore(f"sqlite:///{folders['data'] / 'conversations.db'}")
    browsers = store.create(owner=f"browser:{ALICE[BROWSER_COOKIE]}", title="A browser's").id
    store.close()

    with _client(guarded, ALICE, token=TOKEN) as holder, _client(guarded, BOB, token=TOKEN) as holder_elsewhere:
        res = holder.get(f"/api/conversations/{browsers}")
        assert res.status_code == 404 and res.json()["code"] == "not_found"  # not 403: ids cannot be probed
        assert res.json()["field"] == "conversation_id"
        assert holder.delete(f"/api/conversations/{browsers}").status_code == 404

        mine = _ok(holder.post("/api/conversations", json={"title": "The holder's"}), 201)["id"]
        answer = _ok(holder.post("/api/ask", json={"question": QUESTION, "conversation_id": mine}))
        # The same token from another browser is the same owner.
        assert [c["id"] for c in _ok(holder_elsewhere.get("/api/conversations"))] == [mine]
        _ok(holder_elsewhere.post("/api/feedback", json={"turn_id": answer["turn_id"], "rating": "up"}), 201)

    with _client(guarded, ALICE) as no_token, _client(guarded, ALICE, token="wrong-token") as wrong:
        for client in (no_token, wrong):
            assert client.get(f"/api/conversations/{mine}").status_code == 401
            assert client.post("/api/feedback", json={"turn_id": answer["turn_id"], "rating": "down"}).status_code == 401

    # The browser's conversation is untouched.
    store = ConversationStore(f"sqlite:///{folders['data'] / 'conversations.db'}")
    assert store.get(browsers, owner=f"browser:{ALICE[BROWSER_COOKIE]}").title == "A browser's"
    store.close()
