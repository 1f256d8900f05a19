"""ASSISTANT_CHROMA_URL: a real ``chroma run`` server shared by several assistants.

One process ingests (the CLI, in a subprocess), another answers; a running
reader notices a later ingest; the server is restarted and the data is still
there; a stopped server gives a clear ``BackendError``. The manifest lives in
the server, so assistants with different index folders share one index.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from assistant import Assistant
from assistant.errors import BackendError
from assistant.store.manifest import ChromaManifestStore
from tests.conftest import EXPLAINER, ROOT, SEEDS, STORY
from tests.integration.chroma_server import CHROMA, running_chroma
from tests.integration.test_backends_llm import GO_DEEPER

__all__ = ["CHROMA"]  # other tests import it from here


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory):
    with running_chroma(tmp_path_factory.mktemp("chroma")) as server:
        yield server


@pytest.fixture(scope="module")
def reader(chroma_server, tmp_path_factory):
    """The answering side: its own index folder, its own client, the real MiniLM."""
    return Assistant(index_dir=tmp_path_factory.mktemp("reader"), llm="extractive",
                     chroma_url=chroma_server.url, collection="shared")


def _env(chroma_url: str, index_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    env.update(ASSISTANT_CHROMA_URL=chroma_url, ASSISTANT_INDEX_DIR=str(index_dir),
               ASSISTANT_COLLECTION="shared", ASSISTANT_LLM="extractive", HF_HUB_OFFLINE="1")
    return env


@pytest.mark.integration
def test_ingest_in_one_process_is_answered_by_another(chroma_server, reader, tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "assistant.cli", "ingest", str(SEEDS)],
        env=_env(chroma_server.url, tmp_path / "writer"), cwd=ROOT,
        capture_output=True, text=True, timeout=240,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "added 2" in done.stdout
    assert {d["id"] for d in reader.documents()} == {STORY, EXPLAINER}
    assert reader.suggested_questions()[:3] == GO_DEEPER
    for question in GO_DEEPER:
        answer = reader.ask(question)
        assert not answer.abstained and answer.citations
        assert EXPLAINER in {c.source for c in answer.citations}
        for c in answer.citations:
            assert (SEEDS / f"{c.source}.txt").read_text(encoding="utf-8")[c.start : c.end] == c.snippet
    assert not (reader.settings.index_dir / "manifest.json").exists()  # it came from the server
    # Same manifest semantics as the embedded store: nothing changed, nothing re-added.
    again = Assistant(reader.settings, embeddings=reader.embeddings, index_embeddings=reader.index_embeddings, index_dir=tmp_path / "third")
    report = again.ingest([SEEDS])
    assert report.added == [] and sorted(report.skipped) == [STORY, EXPLAINER]


@pytest.mark.integration
def test_a_running_reader_sees_a_later_ingest_and_its_text(chroma_server, reader, tmp_path):
    folder = tmp_path / "more"
    folder.mkdir()
    (folder / "zanzibar.txt").write_text(
        "Zanzibar quartz notes\n\nZanzibar quartz prices doubled in August after a port strike.\n"
    )
    reader.search("Zanzibar quartz prices")  # the reader holds a snapshot from before
    writer = Assistant(reader.settings, embeddings=reader.embeddings, index_embeddings=reader.index_embeddings, index_dir=tmp_path / "w2")
    assert writer.ingest([folder]).added == ["zanzibar"]
    time.sleep(1.1)  # readers ask the server for a new generation at most once a second
    hits = reader.search("Zanzibar quartz prices")
    assert hits and "Zanzibar" in hits[0]["text"]  # dense and BM25 both see it
    assert "zanzibar" in {d["id"] for d in reader.documents()}
    (folder / "zanzibar.txt").unlink()
    # The reader has no local copy and the file is gone: the text comes from the server.
    assert "port strike" in reader.document_text("zanzibar")
    (folder / "note.txt").write_text("Note\n\nA short note about nothing in particular.\n")
    report = writer.ingest([folder])
    assert report.removed == ["zanzibar"] and report.added == ["note"]
    time.sleep(1.1)
    assert "zanzibar" not in {d["id"] for d in reader.documents()}


@pytest.mark.integration
def test_restart_keeps_the_data_and_a_stopped_server_is_named(chroma_server, reader):
    chroma_server.stop()
    try:
        started = time.monotonic()
        time.sleep(1.1)  # past the reader's once-a-second manifest check
        with pytest.raises(BackendError) as err:
            reader.ask(GO_DEEPER[0])
        assert time.monotonic() - started < 20
        message = str(err.value)
        assert chroma_server.url in message and "ASSISTANT_CHROMA_URL" in message
        with pytest.raises(BackendError, match="Cannot reach the Chroma server"):
            Assistant(reader.settings, embeddings=reader.embeddings, index_embeddings=reader.index_embeddings).ask(GO_DEEPER[0])
    finally:
        chroma_server.start()
    answer = reader.ask(GO_DEEPER[0])  # the same object reconnects; the data persisted
    assert not answer.abstained and EXPLAINER in {c.source for c in answer.citations}
    fresh = Assistant(reader.settings, embeddings=reader.embeddings, index_embeddings=reader.index_embeddings)
    assert {d["id"] for d in fresh.documents()} >= {STORY, EXPLAINER}


def test_server_manifest_store_round_trip_without_a_server(make_assistant, seeds_copy):
    """The server-mode manifest on an in-memory Chroma: ids, generations, removals."""
    assistant = make_assistant(chroma_url="http://unused.invalid:1")
    assistant.ingest([seeds_copy])
    store = assistant.index._manifest_store
    assert isinstance(store, ChromaManifestStore)
    loaded = store.load()
    assert loaded is not None and set(loaded.documents) == {STORY, EXPLAINER}
    assert loaded.generation == 1
    assert store.load_text(STORY) == (seeds_copy / f"{STORY}.txt").read_text(encoding="utf-8")
    (seeds_copy / f"{EXPLAINER}.txt").unlink()
    assert assistant.ingest([seeds_copy]).removed == [EXPLAINER]
    again = store.load()
    assert again is not None and set(again.documents) == {STORY} and again.generation == 2
    assert store.load_text(EXPLAINER) is None
    header = json.loads(assistant.index._manifest_collection().get(ids=["__manifest__"])["documents"][0])
    assert header["uid"] == again.uid
