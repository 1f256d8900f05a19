"""Fast recovery checks on the real embedded Chroma store with the fake encoder.

A crash is simulated by raising from the manifest checkpoint, which leaves
exactly what a kill -9 at that point leaves (the real kill -9 tests are in
``test_crash_ingest.py``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

import assistant.ingest.pipeline as pipeline_module
import assistant.store.index as index_module
from assistant import Assistant
from assistant.store.manifest import ManifestFile
from tests.fakes import HashingEmbeddings
from tests.reliability.conftest import record


class SimulatedKill(BaseException):
    """Not an Exception, so nothing on the way up can catch and tidy it."""


def _assistant(index_dir: Path) -> Assistant:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    client = chromadb.PersistentClient(path=str(index_dir / "chroma"), settings=ChromaSettings(anonymized_telemetry=False))
    return Assistant(index_dir=index_dir, llm="extractive", embeddings=HashingEmbeddings(), chroma_client=client)


def _write(folder: Path, word: str, n: int = 3) -> None:
    folder.mkdir(exist_ok=True)
    for i in range(n):
        (folder / f"d{i}.txt").write_text(
            f"{word.title()} story {i}\n\nThe {word} market grew in year {i}. Trade in {word} rose sharply.\n",
            encoding="utf-8",
        )


def test_crash_after_the_last_checkpoint_of_an_update_does_not_leave_a_stale_bm25_index(tmp_path, monkeypatch):
    """Found by these tests: the re-ingest had nothing left to do, kept the old
    generation, and so loaded the BM25 index of the old texts for good."""
    corpus, index_dir = tmp_path / "corpus", tmp_path / "index"
    _write(corpus, "alphanite")
    assert len(_assistant(index_dir).ingest([corpus]).added) == 3
    _write(corpus, "zebrawood")  # every document edited
    monkeypatch.setattr(pipeline_module, "SAVE_EVERY_S", 0.0)
    # Chunks are written a batch at a time; one-chunk batches make every tiny document its own batch.
    monkeypatch.setattr(pipeline_module, "WRITE_BATCH", 1)
    saves = {"n": 0}
    real_save = ManifestFile.save

    def save_then_die(self, manifest):
        saves["n"] += 1
        if saves["n"] > 3:  # the three per-document checkpoints pass; the final save never happens
            raise SimulatedKill
        real_save(self, manifest)

    monkeypatch.setattr(ManifestFile, "save", save_then_die)
    with pytest.raises(SimulatedKill):
        _assistant(index_dir).ingest([corpus])
    monkeypatch.setattr(ManifestFile, "save", real_save)

    after = _assistant(index_dir)
    report = after.ingest([corpus])
    new_hits = after.index.lexical_search("zebrawood", 5)
    old_hits = after.index.lexical_search("alphanite", 5)
    record("crash_safe_ingest", "crash after the last checkpoint of an update (simulated)",
           reingest=report.summary(), bm25_hits_for_new_text=len(new_hits), bm25_hits_for_old_text=len(old_hits))
    assert {cid.split(":")[0] for cid, _ in new_hits} == {"d0", "d1", "d2"} and old_hits == []
    assert {d["doc_id"] for d in after.search("zebrawood trade", k=6)} == {"d0", "d1", "d2"}


def test_crash_mid_update_then_reingest_replaces_every_document(tmp_path, monkeypatch):
    corpus, index_dir = tmp_path / "corpus", tmp_path / "index"
    _write(corpus, "alphanite", n=6)
    _assistant(index_dir).ingest([corpus])
    _write(corpus, "zebrawood", n=6)
    monkeypatch.setattr(pipeline_module, "SAVE_EVERY_S", 0.0)
    monkeypatch.setattr(pipeline_module, "WRITE_BATCH", 1)  # a batch per document, as in the test above
    calls = {"n": 0}
    real_write = index_module.Index.write_chunks

    def write_then_die(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 4:  # dies while writing the fourth document's chunks
            real_write(self, *args, **kwargs)
            raise SimulatedKill
        return real_write(self, *args, **kwargs)

    monkeypatch.setattr(index_module.Index, "write_chunks", write_then_die)
    with pytest.raises(SimulatedKill):
        _assistant(index_dir).ingest([corpus])
    monkeypatch.setattr(index_module.Index, "write_chunks", real_write)
    after = _assistant(index_dir)
    report = after.ingest([corpus])
    manifest = after.index.manifest()
    listed = {cid for e in manifest.documents.values() for cid in e.chunk_ids}
    stored = set(after.index.collection.get(include=[])["ids"])
    assert listed == stored
    assert len(report.updated) == 3 and len(report.skipped) == 3  # the three recorded before the crash
    for doc in after.documents():
        assert "zebrawood" in after.document_text(doc["id"])


def test_temp_folders_of_a_killed_bm25_save_are_cleaned_up(tmp_path):
    import os
    import time

    from assistant.store.lexical import STALE_TMP_S, LexicalIndex

    dead, live = tmp_path / "lexical.tmp-dead", tmp_path / "lexical.tmp-live"
    dead.mkdir()
    live.mkdir()  # another saver, still writing
    os.utime(dead, (time.time() - STALE_TMP_S - 60,) * 2)
    LexicalIndex.build(["a"], ["rare earth magnets"]).save(tmp_path / "lexical", "1:1")
    assert not dead.exists() and live.exists()
    assert LexicalIndex.load(tmp_path / "lexical", "1:1").search("magnets", 1)[0][0] == "a"
