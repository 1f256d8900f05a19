"""Folders kept in sync: a burst of changes is applied by loading only the files that changed.

Fake encoder and in-memory Chroma; the one test of the real watch loop uses
``watchfiles`` on a temp folder and waits a few seconds at most.
"""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import pytest
import watchfiles

from assistant.ingest import pipeline as pipeline_module
from assistant.ingest.pipeline import IngestPipeline
from assistant.ingest.watch import FolderWatcher, SyncBatch, WatchFilter
from tests.conftest import EXPLAINER, STORY

NOTE = "Gallium note\n\nThe Zorblax gallium refinery in Lagos doubled output in May 2025.\n"


def _texts(assistant) -> dict[str, str]:
    got = assistant.index.collection.get(include=["documents"])
    return dict(zip(got["ids"], got["documents"], strict=True))


def _chunk_texts_of(assistant, doc_id: str) -> list[str]:
    ids = assistant.index.manifest().documents[doc_id].chunk_ids
    texts = _texts(assistant)
    return [texts[cid] for cid in ids]


@pytest.fixture
def synced(make_assistant, seeds_copy):
    """An assistant whose index mirrors ``seeds_copy``, and its pipeline."""
    assistant = make_assistant()
    assistant.ingest([seeds_copy])
    return assistant, IngestPipeline(assistant.index)


def test_an_added_file_is_loaded_alone(synced, seeds_copy, monkeypatch):
    assistant, pipeline = synced
    loaded: list[list[str]] = []
    real = pipeline_module.load_documents
    monkeypatch.setattr(pipeline_module, "load_documents",
                        lambda paths, *a: loaded.append([Path(p).name for p in paths]) or real(paths, *a))
    note = seeds_copy / "note.txt"
    note.write_text(NOTE, encoding="utf-8")
    report = pipeline.apply([note])
    assert loaded == [["note.txt"]]  # not the folder
    assert report.added == ["note"] and report.skipped == [] and report.removed == []
    assert report.chunks_embedded == report.chunks_added > 0
    assert sorted(assistant.index.manifest().documents) == sorted([STORY, EXPLAINER, "note"])
    assert any("Zorblax" in h["text"] for h in assistant.search("Zorblax gallium refinery"))


def test_an_edited_file_re_embeds_only_its_changed_chunks(synced, seeds_copy):
    assistant, pipeline = synced
    story = seeds_copy / f"{STORY}.txt"
    story.write_text(story.read_text(encoding="utf-8") + "\n\nThe Zorblax mine reopened in June.\n", encoding="utf-8")
    report = pipeline.apply([story])
    assert report.updated == [STORY] and report.added == []
    total = len(assistant.index.manifest().documents[STORY].chunk_ids)
    assert 0 < report.chunks_embedded < total
    assert any("Zorblax mine" in t for t in _chunk_texts_of(assistant, STORY))
    again = pipeline.apply([story])  # saved again, same content
    assert again.skipped == [STORY] and again.chunks_embedded == 0


def test_a_deleted_file_is_removed_when_only_its_path_is_given(synced, seeds_copy):
    assistant, pipeline = synced
    explainer = seeds_copy / f"{EXPLAINER}.txt"
    explainer.unlink()
    report = pipeline.apply([], [explainer])
    assert report.removed == [EXPLAINER] and report.chunks_removed > 0
    assert list(assistant.index.manifest().documents) == [STORY]
    assert set(_texts(assistant)) == set(assistant.index.manifest().chunk_ids())  # its chunks are gone


def test_a_deleted_folder_removes_the_documents_under_it(make_assistant, seeds_copy):
    assistant = make_assistant()
    sub = seeds_copy / "sub"
    sub.mkdir()
    (sub / "note.txt").write_text(NOTE, encoding="utf-8")
    assistant.ingest([seeds_copy])
    shutil.rmtree(sub)
    report = IngestPipeline(assistant.index).apply([], [sub])
    assert report.removed == ["note"]


def test_a_renamed_file_keeps_its_vectors(synced, seeds_copy):
    assistant, pipeline = synced
    before = sorted(_chunk_texts_of(assistant, EXPLAINER))
    calls = assistant.index.embeddings.calls
    old, new = seeds_copy / f"{EXPLAINER}.txt", seeds_copy / "explainer-renamed.txt"
    old.rename(new)
    report = pipeline.apply([new], [old])
    assert report.removed == [EXPLAINER] and report.added == ["explainer-renamed"]
    assert report.chunks_embedded == 0 and assistant.index.embeddings.calls == calls
    assert sorted(_chunk_texts_of(assistant, "explainer-renamed")) == before
    hits = assistant.search("rare earth export restrictions enforcement")
    assert hits and all(h["doc_id"] != EXPLAINER for h in hits)


def test_a_renamed_and_edited_file_encodes_only_the_new_text(synced, seeds_copy):
    assistant, pipeline = synced
    old, new = seeds_copy / f"{STORY}.txt", seeds_copy / "story.txt"
    new.write_text(old.read_text(encoding="utf-8") + "\n\nThe Zorblax mine reopened in June.\n", encoding="utf-8")
    old.unlink()
    report = pipeline.apply([new], [old])
    assert report.added == ["story"] and report.removed == [STORY]
    assert 0 < report.chunks_embedded < report.chunks_added


def test_a_file_taking_an_indexed_id_from_another_file_is_refused(synced, seeds_copy, tmp_path):
    assistant, pipeline = synced
    other = tmp_path / "elsewhere"
    other.mkdir()
    clash = other / f"{STORY}.md"
    clash.write_text(NOTE, encoding="utf-8")
    report = pipeline.apply([clash])
    assert report.added == report.updated == []
    assert "duplicate document id" in report.errors[0]["reason"] and report.errors[0]["path"] == str(clash)
    assert "Zorblax" not in assistant.document_text(STORY)


def test_run_still_mirrors_a_folder_and_counts_what_it_encodes(make_assistant, seeds_copy):
    assistant = make_assistant()
    first = assistant.ingest([seeds_copy])
    assert first.chunks_embedded == first.chunks_added > 0
    (seeds_copy / f"{STORY}.txt").rename(seeds_copy / "moved.txt")  # renamed while nothing watched
    second = assistant.ingest([seeds_copy])
    assert second.removed == [STORY] and second.added == ["moved"] and second.chunks_embedded == 0


# ----- the watcher ---------------------------------------------------------------------------


def test_a_file_still_being_written_waits_for_the_next_round(synced, seeds_copy):
    assistant, _ = synced
    watcher = FolderWatcher(assistant, [seeds_copy], settle_s=0.3)
    growing = seeds_copy / "growing.txt"
    growing.write_text("Growing report\n\n", encoding="utf-8")
    done = threading.Event()

    def write_slowly() -> None:
        with growing.open("a", encoding="utf-8") as fh:
            for i in range(12):
                fh.write(f"Line {i} about the Zorblax smelter. ")
                fh.flush()
                time.sleep(0.05)
        done.set()

    writer = threading.Thread(target=write_slowly)
    writer.start()
    assert watcher.sync([growing]) is None  # size moved between the two looks
    assert watcher.pending == {growing} and "growing" not in assistant.index.manifest().documents
    writer.join()
    batch = watcher.sync()  # the next round: no new event needed
    assert batch is not None and batch.report.added == ["growing"] and not watcher.pending
    assert "Line 11" in assistant.document_text("growing")


def test_a_file_that_fails_to_parse_is_named_and_the_rest_applied(synced, seeds_copy, caplog):
    assistant, _ = synced
    batches: list[SyncBatch] = []
    watcher = FolderWatcher(assistant, [seeds_copy], on_batch=batches.append, settle_s=0)
    bad, good = seeds_copy / "broken.txt", seeds_copy / "note.txt"
    bad.write_bytes(b"\x00\x01binary\x00")
    good.write_text(NOTE, encoding="utf-8")
    with caplog.at_level("WARNING", logger="assistant.ingest.watch"):
        batch = watcher.sync([bad, good])
    assert batch is not None and batches == [batch]
    assert batch.report.added == ["note"]
    assert [Path(e["path"]).name for e in batch.report.errors] == ["broken.txt"]
    assert "refused broken.txt" in batch.line() and "added note" in batch.line()
    assert any("broken.txt" in r.getMessage() for r in caplog.records)


def test_sync_judges_paths_by_what_is_on_disk(synced, seeds_copy):
    assistant, _ = synced
    watcher = FolderWatcher(assistant, [seeds_copy], settle_s=0)
    assert watcher.sync([seeds_copy / "never-existed.txt", seeds_copy / "picture.png"]) is None
    story = seeds_copy / f"{STORY}.txt"
    story.unlink()
    batch = watcher.sync([story])  # an event of any kind: the file is gone, so is its document
    assert batch is not None and batch.report.removed == [STORY] and batch.deleted == [str(story)]


def test_catch_up_applies_what_changed_while_nothing_watched(synced, seeds_copy):
    assistant, _ = synced
    (seeds_copy / f"{EXPLAINER}.txt").unlink()
    (seeds_copy / "note.txt").write_text(NOTE, encoding="utf-8")
    report = FolderWatcher(assistant, [seeds_copy]).catch_up()
    assert report.removed == [EXPLAINER] and report.added == ["note"] and report.skipped == [STORY]


def test_an_empty_folder_can_be_watched(make_assistant, tmp_path):
    folder = tmp_path / "empty"
    folder.mkdir()
    report = FolderWatcher(make_assistant(), [folder]).catch_up()
    assert report.added == [] and report.errors == []


def test_a_missing_folder_is_refused_by_name(make_assistant, tmp_path):
    from assistant.errors import InputError

    with pytest.raises(InputError, match="nope: no such file or folder to watch"):
        FolderWatcher(make_assistant(), [tmp_path / "nope"])


def test_the_filter_keeps_documents_and_folders_and_drops_hidden_temp_and_index_files(tmp_path):
    root = tmp_path / "docs"
    (root / "sub").mkdir(parents=True)
    index = root / "indexes"
    keep = WatchFilter([root], exclude=[index])
    added, modified, deleted = watchfiles.Change.added, watchfiles.Change.modified, watchfiles.Change.deleted
    assert keep(modified, str(root / "a.txt")) and keep(added, str(root / "sub" / "b.pdf"))
    assert keep(added, str(root / "sub")) and not keep(modified, str(root / "sub"))
    assert keep(deleted, str(root / "gone-folder"))
    for path in (".hidden.txt", ".git/x.md", "a.txt~", "a.txt.swp", "#a.txt#", "x.tmp", "photo.png",
                 "indexes/documents/a.txt"):
        assert not keep(added, str(root / path)), path
    assert not keep(added, str(tmp_path / "outside.txt"))


def test_the_watch_loop_follows_adds_edits_renames_and_deletes(make_assistant, seeds_copy):
    assistant = make_assistant()
    batches: list[SyncBatch] = []
    seen = threading.Condition()

    def on_batch(batch: SyncBatch) -> None:
        with seen:
            batches.append(batch)
            seen.notify_all()

    watcher = FolderWatcher(assistant, [seeds_copy], on_batch=on_batch, debounce_ms=400, step_ms=50, settle_s=0.1)

    def wait_for(check, timeout: float = 10.0) -> None:
        with seen:
            assert seen.wait_for(lambda: any(check(b.report) for b in batches), timeout), [b.line() for b in batches]

    watcher.start()
    try:
        wait_for(lambda r: sorted(r.added) == sorted([STORY, EXPLAINER]))  # the catch-up
        (seeds_copy / ".hidden.txt").write_text(NOTE, encoding="utf-8")
        (seeds_copy / "note.txt~").write_text(NOTE, encoding="utf-8")
        (seeds_copy / "note.txt").write_text(NOTE, encoding="utf-8")
        wait_for(lambda r: r.added == ["note"])
        (seeds_copy / "note.txt").write_text(NOTE + "\nIt hired 300 people.\n", encoding="utf-8")
        wait_for(lambda r: r.updated == ["note"])
        (seeds_copy / "note.txt").rename(seeds_copy / "gallium.txt")
        wait_for(lambda r: r.added == ["gallium"] and r.removed == ["note"] and r.chunks_embedded == 0)
        (seeds_copy / "gallium.txt").unlink()
        wait_for(lambda r: r.removed == ["gallium"])
    finally:
        watcher.stop()
    assert watcher.thread is not None and not watcher.thread.is_alive()
    assert sorted(assistant.index.manifest().documents) == sorted([STORY, EXPLAINER])
    named = " ".join(b.line() for b in batches)
    assert ".hidden" not in named and "note.txt~" not in named


def test_a_search_racing_a_sync_skips_chunks_deleted_under_it(synced, monkeypatch):
    """Chroma returns a chunk deleted during the query without text or metadata; it is left out."""
    assistant, _ = synced
    collection = assistant.index.collection
    real_query = collection.query

    def query_racing_a_delete(**kwargs):
        res = real_query(**kwargs)
        res["documents"][0][0] = None
        res["metadatas"][0][0] = None
        return res

    monkeypatch.setattr(collection, "query", query_racing_a_delete)
    hits = assistant.index.dense_search(assistant.index_embeddings.embed_query("rare earth exports"), 5)
    assert len(hits) == 4 and all(h.text for h in hits)
