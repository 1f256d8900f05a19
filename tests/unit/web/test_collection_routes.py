"""Collections over HTTP: /api/collections, the collection field of every route, /v1 models."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from assistant import Assistant
from assistant.web.app import create_app
from tests.fakes import HashingEmbeddings

QUESTION = "How many people does the zinc mine employ?"


@pytest.fixture
def client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> TestClient:
    monkeypatch.chdir(tmp_path)  # /api/ingest reads only paths inside the server's folder
    for place, count in (("Peru", 400), ("Chile", 900)):
        folder = tmp_path / place.lower()
        folder.mkdir()
        (folder / f"{place.lower()}.md").write_text(f"# Zinc in {place}\n\nThe zinc mine in {place} employs {count} people.\n")
    assistant = Assistant(index_dir=tmp_path / "index", llm="extractive", embeddings=HashingEmbeddings(),
                          abstain_threshold=0.1)
    assistant.ingest([tmp_path / "peru"])
    return TestClient(create_app(assistant, with_ui=False))


def test_create_ingest_ask_and_list(client: TestClient) -> None:
    created = client.post("/api/collections", json={"name": "chile", "chunk_tokens": 64, "chunk_overlap": 8})
    assert created.status_code == 201 and created.json()["settings"]["chunk_tokens"] == 64
    report = client.post("/api/ingest", json={"paths": ["chile"], "collection": "chile"}).json()
    assert report["added"] == ["chile"] and report["collection"] == "chile"
    chile = client.post("/api/ask", json={"question": QUESTION, "collection": "chile"}).json()
    peru = client.post("/api/ask", json={"question": QUESTION}).json()
    assert {c["source"] for c in chile["citations"]} == {"chile"}
    assert {c["source"] for c in peru["citations"]} == {"peru"}
    listed = {c["name"]: c for c in client.get("/api/collections").json()}
    assert listed["chile"]["documents"] == 1 and listed["assistant"]["default"]
    assert [d["id"] for d in client.get("/api/documents", params={"collection": "chile"}).json()] == ["chile"]
    text = client.get("/api/documents/chile", params={"collection": "chile"}).json()["text"]
    assert "900" in text


def test_upload_into_a_new_collection_creates_it(client: TestClient) -> None:
    files = [("files", ("bolivia.md", b"# Bolivia\n\nThe tin mine in Bolivia employs 70 people.\n", "text/markdown"))]
    res = client.post("/api/upload", files=files, data={"collection": "tin"})
    assert res.status_code == 200, res.text
    assert [d["id"] for d in client.get("/api/documents", params={"collection": "tin"}).json()] == ["bolivia"]
    assert client.get("/api/documents").json()[0]["id"] == "peru"


def test_openai_models_are_collections(client: TestClient) -> None:
    client.post("/api/ingest", json={"paths": ["chile"], "collection": "chile"})
    models = [m["id"] for m in client.get("/v1/models").json()["data"]]
    assert models == ["assistant", "chile"]
    reply = client.post("/v1/chat/completions", json={"model": "chile", "messages": [{"role": "user", "content": QUESTION}]})
    assert "900" in reply.json()["choices"][0]["message"]["content"]
    # A client's default model name is not a collection: the server's own answers, and says so.
    other = client.post("/v1/chat/completions", json={"model": "gpt-4o", "messages": [{"role": "user", "content": QUESTION}]})
    assert "400" in other.json()["choices"][0]["message"]["content"] and other.json()["model"] == "assistant"
    assert reply.json()["model"] == "chile"


def test_document_delete_and_reindex_routes(client: TestClient) -> None:
    assert client.post("/api/documents/peru/reindex").json()["updated"] == ["peru"]
    assert client.delete("/api/documents/peru").json() == {"deleted": "peru", "collection": "assistant"}
    assert client.get("/api/documents").json() == []
    gone = client.delete("/api/documents/peru")
    assert gone.status_code == 404


def test_rename_delete_and_errors_name_the_collection(client: TestClient) -> None:
    client.post("/api/ingest", json={"paths": ["chile"], "collection": "chile"})
    renamed = client.post("/api/collections/chile/rename", json={"new_name": "andes"})
    assert renamed.status_code == 200 and renamed.json()["name"] == "andes"
    missing = client.post("/api/ask", json={"question": QUESTION, "collection": "chile"})
    assert missing.status_code == 404 and missing.json()["field"] == "collection" and "chile" in missing.json()["error"]
    bad = client.post("/api/collections", json={"name": "../x"})
    assert bad.status_code == 400 and "path characters" in bad.json()["error"]
    assert client.delete("/api/collections/assistant").status_code == 400
    assert client.delete("/api/collections/andes").json() == {"deleted": "andes"}
    assert [c["name"] for c in client.get("/api/collections").json()] == ["assistant"]
