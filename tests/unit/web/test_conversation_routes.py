"""Saved conversations and feedback over the JSON API: what a client sees, owner by owner."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from assistant.web.app import create_app
from assistant.web.owner import BROWSER_COOKIE

QUESTION = "How is China enforcing its rare earth export restrictions?"
FOLLOW_UP = "What about smuggling?"
LOOPBACK = ("127.0.0.1", 50000)  # the rate limit exempts loopback; "testclient" would be limited
ALICE = {BROWSER_COOKIE: "a" * 32}
BOB = {BROWSER_COOKIE: "b" * 32}
TOKEN = "unit-test-token-0123456789"
UNKNOWN_ID = "0" * 32


@pytest.fixture
def app(make_assistant, seeds_copy):
    assistant = make_assistant()
    assistant.ingest([seeds_copy])
    return create_app(assistant, with_ui=False)


def browser(app, cookies: dict[str, str] | None = None) -> TestClient:
    return TestClient(app, client=LOOPBACK, cookies=cookies)


def _new(client: TestClient, **body) -> str:
    res = client.post("/api/conversations", json=body or None)
    assert res.status_code == 201, res.text
    return res.json()["id"]


def _ask(client: TestClient, question: str, conversation_id: str | None) -> dict:
    res = client.post("/api/ask", json={"question": question, "conversation_id": conversation_id})
    assert res.status_code == 200, res.text
    return res.json()


def test_a_conversation_keeps_its_turns_in_order_and_follow_ups_read_them(app):
    client = browser(app, ALICE)
    cid = _new(client)
    first = _ask(client, QUESTION, cid)
    second = _ask(client, FOLLOW_UP, cid)
    assert first["conversation_id"] == second["conversation_id"] == cid
    assert first["turn_id"] and second["turn_id"] and first["turn_id"] != second["turn_id"]
    # The follow-up was condensed with the saved first question, not with a client-sent history.
    assert QUESTION in second["metadata"]["query"]

    got = client.get(f"/api/conversations/{cid}").json()
    assert got["title"] == QUESTION  # the first question names an untitled conversation
    assert [t["position"] for t in got["turns"]] == [0, 1]
    assert [t["question"] for t in got["turns"]] == [QUESTION, FOLLOW_UP]
    assert [t["id"] for t in got["turns"]] == [first["turn_id"], second["turn_id"]]
    saved = got["turns"][0]["answer"]
    assert saved["text"] == first["text"] and saved["citations"] == first["citations"]
    assert {"text", "citations", "abstained", "claims", "conflicts", "follow_ups", "timings", "metadata"} <= set(saved)
    assert got["turns"][0]["feedback"] is None


def test_an_answer_outside_a_conversation_says_so_and_saves_nothing(app):
    client = browser(app)
    body = _ask(client, QUESTION, None)
    assert body["turn_id"] is None and body["conversation_id"] is None and body["citations"]
    assert client.get("/api/conversations").json() == []


def test_the_stream_saves_the_turn_and_its_answer_event_names_it(app):
    client = browser(app)
    cid = _new(client, title="Streamed")
    with client.stream("POST", "/api/ask/stream", json={"question": QUESTION, "conversation_id": cid}) as res:
        assert res.status_code == 200
        lines = [line for line in res.iter_lines() if line]
    answer_at = lines.index("event: answer")
    answer = json.loads(lines[answer_at + 1].removeprefix("data: "))
    assert answer["conversation_id"] == cid and answer["turn_id"]
    turns = client.get(f"/api/conversations/{cid}").json()["turns"]
    assert [t["id"] for t in turns] == [answer["turn_id"]]


def test_list_rename_delete(app):
    client = browser(app)
    older = _new(client, title="Older")
    newer = _new(client)
    _ask(client, QUESTION, newer)
    listed = client.get("/api/conversations").json()
    assert [c["id"] for c in listed] == [newer, older]  # most recently used first
    assert [c["turn_count"] for c in listed] == [1, 0] and "turns" not in listed[0]

    renamed = client.patch(f"/api/conversations/{older}", json={"title": "  Export   controls  "})
    assert renamed.status_code == 200 and renamed.json()["title"] == "Export controls"

    assert client.delete(f"/api/conversations/{newer}").status_code == 204
    gone = client.get(f"/api/conversations/{newer}")
    assert gone.status_code == 404
    assert gone.json()["code"] == "not_found" and gone.json()["field"] == "conversation_id"
    assert [c["id"] for c in client.get("/api/conversations").json()] == [older]


def test_feedback_is_stored_and_the_latest_rating_shows_on_the_turn(app):
    client = browser(app)
    cid = _new(client)
    turn_id = _ask(client, QUESTION, cid)["turn_id"]
    up = client.post("/api/feedback", json={"turn_id": turn_id, "rating": "up"})
    assert up.status_code == 201 and up.json()["rating"] == "up"
    down = client.post("/api/feedback", json={
        "turn_id": turn_id, "rating": "down", "comment": "Misses the licences.",
        "correction": "China requires export licences.", "facts": ["licences"], "sources": ["000_0fda6ccdd058825b"],
    })
    assert down.status_code == 201, down.text
    stored = down.json()
    assert stored["turn_id"] == turn_id and stored["id"]
    assert stored["facts"] == ["licences"] and stored["correction"] == "China requires export licences."
    turn = client.get(f"/api/conversations/{cid}").json()["turns"][0]
    assert turn["feedback"] == stored


def test_export_as_markdown_and_json_downloads_with_a_safe_name(app):
    client = browser(app)
    cid = _new(client, title='Rare "earths" / Ünïcode')
    answer = _ask(client, QUESTION, cid)
    md = client.get(f"/api/conversations/{cid}/export")
    assert md.status_code == 200 and md.headers["content-type"].startswith("text/markdown")
    disposition = md.headers["content-disposition"]
    assert disposition == f'attachment; filename="rare-earths-unicode-{cid[:8]}.md"'
    assert f"## {QUESTION}" in md.text and "**Sources**" in md.text
    assert answer["citations"][0]["source"] in md.text

    js = client.get(f"/api/conversations/{cid}/export", params={"format": "json"})
    assert js.status_code == 200 and js.headers["content-disposition"].endswith(f'-{cid[:8]}.json"')
    assert js.json() == client.get(f"/api/conversations/{cid}").json()


def test_another_browsers_conversation_is_not_found_on_every_route(app):
    alice, bob, script = browser(app, ALICE), browser(app, BOB), browser(app)
    cid = _new(alice, title="Alice's")
    turn_id = _ask(alice, QUESTION, cid)["turn_id"]
    for other in (bob, script):  # a cookie-less script is the "local" owner, not Alice
        assert other.get("/api/conversations").json() == []
        attempts = [
            other.get(f"/api/conversations/{cid}"),
            other.patch(f"/api/conversations/{cid}", json={"title": "mine now"}),
            other.delete(f"/api/conversations/{cid}"),
            other.get(f"/api/conversations/{cid}/export"),
            other.post("/api/ask", json={"question": QUESTION, "conversation_id": cid}),
            other.post("/api/ask/stream", json={"question": QUESTION, "conversation_id": cid}),
            other.post("/api/feedback", json={"turn_id": turn_id, "rating": "down"}),
        ]
        for res in attempts:
            assert res.status_code == 404, (res.request.method, res.request.url, res.text)
            assert res.json()["code"] == "not_found"
    kept = alice.get(f"/api/conversations/{cid}").json()
    assert kept["title"] == "Alice's" and len(kept["turns"]) == 1 and kept["turns"][0]["feedback"] is None


def test_with_a_token_the_holder_owns_conversations_whatever_the_cookie(make_assistant, seeds_copy):
    assistant = make_assistant(api_token=TOKEN)
    assistant.ingest([seeds_copy])
    app = create_app(assistant, with_ui=False)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with_alice = TestClient(app, client=LOOPBACK, cookies=ALICE, headers=auth)
    with_bob = TestClient(app, client=LOOPBACK, cookies=BOB, headers=auth)
    cid = _new(with_alice)
    assert with_bob.get(f"/api/conversations/{cid}").status_code == 200
    assert TestClient(app, client=LOOPBACK, cookies=ALICE).get(f"/api/conversations/{cid}").status_code == 401


def _bad_requests(cid: str, turn_id: str) -> list[tuple[str, str, dict | None, int, str]]:
    """(method, path, json body, status, field) of requests that must be refused."""
    long = "x" * 4001
    return [
        ("GET", "/api/conversations/not-an-id", None, 400, "conversation_id"),
        ("PATCH", "/api/conversations/NOT-HEX-" + "0" * 24, {"title": "t"}, 400, "conversation_id"),
        ("DELETE", "/api/conversations/123", None, 400, "conversation_id"),
        ("GET", f"/api/conversations/{cid}/export?format=pdf", None, 400, "format"),
        ("GET", f"/api/conversations/{UNKNOWN_ID}/export", None, 404, "conversation_id"),
        ("POST", "/api/conversations", {"title": "   "}, 400, "title"),
        ("POST", "/api/conversations", {"title": "t" * 201}, 400, "title"),
        ("POST", "/api/conversations", {"titel": "typo"}, 422, "titel"),
        ("PATCH", f"/api/conversations/{cid}", {}, 422, "title"),
        ("POST", "/api/ask", {"question": QUESTION, "conversation_id": "nope"}, 400, "conversation_id"),
        ("POST", "/api/ask", {"question": QUESTION, "conversation_id": UNKNOWN_ID}, 404, "conversation_id"),
        ("POST", "/api/ask/stream", {"question": QUESTION, "conversation_id": "nope"}, 400, "conversation_id"),
        ("POST", "/api/feedback", {"turn_id": "nope", "rating": "up"}, 400, "turn_id"),
        ("POST", "/api/feedback", {"turn_id": UNKNOWN_ID, "rating": "up"}, 404, "turn_id"),
        ("POST", "/api/feedback", {"turn_id": turn_id, "rating": "meh"}, 400, "rating"),
        ("POST", "/api/feedback", {"turn_id": turn_id}, 422, "rating"),
        ("POST", "/api/feedback", {"turn_id": turn_id, "rating": "down", "comment": long}, 400, "comment"),
        ("POST", "/api/feedback", {"turn_id": turn_id, "rating": "down", "correction": long}, 400, "correction"),
        ("POST", "/api/feedback", {"turn_id": turn_id, "rating": "up", "correction": "no"}, 400, "correction"),
        ("POST", "/api/feedback", {"turn_id": turn_id, "rating": "down", "facts": "one"}, 400, "facts"),
        ("POST", "/api/feedback", {"turn_id": turn_id, "rating": ["up"]}, 400, "rating"),
        ("POST", "/api/feedback", {"turn_id": {"id": turn_id}, "rating": "up"}, 400, "turn_id"),
        ("PATCH", f"/api/conversations/{cid}", {"title": 7}, 400, "title"),
        ("POST", "/api/feedback", {"turn_id": turn_id, "rating": "down", "facts": ["f"] * 21}, 400, "facts"),
        ("POST", "/api/feedback", {"turn_id": turn_id, "rating": "down", "coment": "typo"}, 422, "coment"),
    ]


def test_bad_input_is_refused_naming_the_field_and_nothing_is_stored(app):
    client = browser(app)
    cid = _new(client, title="Kept")
    turn_id = _ask(client, QUESTION, cid)["turn_id"]
    deleted = _new(client, title="Deleted")
    assert client.delete(f"/api/conversations/{deleted}").status_code == 204
    before = client.get(f"/api/conversations/{cid}").json()

    cases = [*_bad_requests(cid, turn_id), ("GET", f"/api/conversations/{deleted}/export", None, 404, "conversation_id")]
    for method, path, body, status, field in cases:
        res = client.request(method, path, json=body)
        assert res.status_code == status, (method, path, res.text)
        assert res.json()["field"] == field and res.json()["error"], (method, path, res.text)

    assert client.get(f"/api/conversations/{cid}").json() == before  # no turn, rename or feedback slipped in
    assert [c["id"] for c in client.get("/api/conversations").json()] == [cid]
    assert app.state.assistant.conversations.rated_turns() == []
