"""The HTTP API against a real server (uvicorn in a subprocess) over the seed documents."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from tests.e2e.live_server import LiveServer, shared_server

pytestmark = pytest.mark.integration

QUESTION = "How is China enforcing its rare earth export restrictions?"


@pytest.fixture(scope="module")
def server() -> LiveServer:
    return shared_server()


@pytest.fixture(scope="module")
def client(server: LiveServer):
    with httpx.Client(base_url=server.url, timeout=60) as c:
        yield c


def read_sse(response: httpx.Response) -> list[tuple[str, object]]:
    events, name, data = [], None, []
    for line in response.iter_lines():
        if line.startswith("event: "):
            name = line[7:]
        elif line.startswith("data: "):
            data.append(line[6:])
        elif not line and name:
            events.append((name, json.loads("\n".join(data))))
            name, data = None, []
    return events


def test_health_and_documents(client: httpx.Client) -> None:
    health = client.get("/api/health").json()
    assert health["status"] == "ok" and health["documents"] >= 2 and health["chunks"] > 0
    docs = client.get("/api/documents").json()
    ids = {d["id"] for d in docs}
    assert {"000_0fda6ccdd058825b", "002_629009e0f8bab43f"} <= ids
    one = client.get("/api/documents/002_629009e0f8bab43f").json()
    assert one["id"] == "002_629009e0f8bab43f" and "Go deeper" in one["text"]


def test_unknown_document_is_404_naming_the_field(client: httpx.Client) -> None:
    res = client.get("/api/documents/nope")
    assert res.status_code == 404
    assert res.json()["field"] == "doc_id" and "nope" in res.json()["error"]


def test_ask_returns_answer_dict_with_exact_spans(client: httpx.Client) -> None:
    res = client.post("/api/ask", json={"question": QUESTION, "k": 6})
    assert res.status_code == 200
    body = res.json()
    assert set(body) >= {"text", "citations", "abstained", "claims", "conflicts", "follow_ups", "timings", "metadata"}
    assert not body["abstained"] and body["citations"] and "[1]" in body["text"]
    texts = {}
    for c in body["citations"]:
        if c["source"] not in texts:
            texts[c["source"]] = client.get(f"/api/documents/{c['source']}").json()["text"]
        assert texts[c["source"]][c["start"] : c["end"]] == c["snippet"]


def test_off_topic_question_abstains(client: httpx.Client) -> None:
    body = client.post("/api/ask", json={"question": "What is the best recipe for sourdough bread?"}).json()
    assert body["abstained"] is True and body["citations"] == []


@pytest.mark.parametrize(
    ("payload", "status", "field"),
    [
        ({}, 422, "question"),
        ({"question": "   "}, 400, "question"),
        ({"question": "x" * 5000}, 400, "question"),
        ({"question": QUESTION, "k": 0}, 422, "k"),
        ({"question": QUESTION, "k": "many"}, 422, "k"),
        ({"question": QUESTION, "history": [{"role": "robot", "content": "hi"}]}, 422, "history.0.role"),
        ({"question": QUESTION, "generator": "gpt-9"}, 422, "generator"),
    ],
)
def test_bad_requests_name_the_field(client: httpx.Client, payload: dict, status: int, field: str) -> None:
    for path in ("/api/ask", "/api/ask/stream"):
        res = client.post(path, json=payload)
        assert res.status_code == status, (path, res.text)
        body = res.json()
        assert body["field"] == field and body["error"]


def test_malformed_json_is_a_4xx(client: httpx.Client) -> None:
    res = client.post("/api/ask", content=b"{not json", headers={"content-type": "application/json"})
    assert res.status_code == 422 and "error" in res.json()


def test_stream_sends_tokens_then_the_answer(client: httpx.Client) -> None:
    with client.stream("POST", "/api/ask/stream", json={"question": QUESTION}) as res:
        assert res.status_code == 200
        assert res.headers["content-type"].startswith("text/event-stream")
        events = read_sse(res)
    names = [name for name, _ in events]
    assert names.count("answer") == 1 and names[-1] == "answer"
    tokens = [data for name, data in events if name == "token"]
    assert len(tokens) > 5
    answer = events[-1][1]
    assert isinstance(answer, dict) and answer["citations"]
    assert "".join(tokens).split()[:5] == answer["text"].split()[:5]


def test_follow_up_uses_history(client: httpx.Client) -> None:
    first = client.post("/api/ask", json={"question": "What steps is the US taking to reduce dependence on Chinese rare earths?"}).json()
    history = [
        {"role": "user", "content": "What steps is the US taking to reduce dependence on Chinese rare earths?"},
        {"role": "assistant", "content": first["text"]},
    ]
    body = client.post("/api/ask", json={"question": "And what is Japan doing?", "history": history}).json()
    assert "rare earth" in body["metadata"]["query"].lower()  # condensed with the earlier turn
    assert not body["abstained"]


def test_upload_saves_safely_and_refuses_by_name(client: httpx.Client, server: LiveServer) -> None:
    files = [
        ("files", ("../../evil-notes.md", b"# Lunar helium\n\nHelium-3 mining on the Moon is studied by several space agencies.\n", "text/markdown")),
        ("files", ("slides.pptx", b"PK\x03\x04 not a supported type", "application/octet-stream")),
        ("files", ("empty.txt", b"", "text/plain")),
        ("files", ("huge.txt", b"a" * 300_000, "text/plain")),  # the test server allows 200 kB
    ]
    res = client.post("/api/upload", files=files)
    assert res.status_code == 200, res.text
    report = res.json()
    assert report["saved"] == ["evil-notes.md"] and report["added"] == ["evil-notes"]
    refused = {r["file"]: r["reason"] for r in report["refused"]}
    assert "unsupported file type '.pptx'" in refused["slides.pptx"]
    assert "empty" in refused["empty.txt"]
    assert "limit" in refused["huge.txt"]
    uploads = server.index_dir / "uploads"
    saved = {p.name for p in uploads.iterdir()}  # the browser tests may have uploaded too
    assert "evil-notes.md" in saved and not saved & {"slides.pptx", "empty.txt", "huge.txt"}
    assert not (server.workdir / "evil-notes.md").exists()
    assert "evil-notes" in {d["id"] for d in client.get("/api/documents").json()}


def test_ingest_errors_are_4xx_with_a_message(client: httpx.Client) -> None:
    res = client.post("/api/ingest", json={"paths": []})
    assert res.status_code == 422 and res.json()["field"] == "paths"
    res = client.post("/api/ingest", json={"paths": ["/no/such/folder"]})
    assert res.status_code == 403 and "/no/such/folder" in res.json()["error"]
    assert res.json()["field"] == "paths"
    res = client.post("/api/ingest", json={"paths": ["seeds/missing-folder"]})
    assert res.status_code == 400 and "missing-folder" in res.json()["error"]


def test_openapi_docs(client: httpx.Client) -> None:
    assert client.get("/docs").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/ask", "/api/ask/stream", "/api/ingest", "/api/health", "/api/documents", "/api/upload"} <= set(paths)


def test_gradio_client_chat_endpoint(server: LiveServer) -> None:
    from gradio_client import Client

    client = Client(server.url, verbose=False)
    answer = client.predict(QUESTION, 0, "extractive", api_name="/ask")
    assert answer["citations"] and not answer["abstained"]
    job = client.submit(QUESTION, [], 0, "", api_name="/chat")
    final = job.result(timeout=60)
    outputs = job.outputs()
    assert len(outputs) >= 2 and "[1]" in final
    started = time.monotonic()
    with pytest.raises(Exception, match="empty"):
        client.predict("   ", 0, "", api_name="/ask")
    assert time.monotonic() - started < 30
