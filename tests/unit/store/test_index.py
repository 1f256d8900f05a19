import shutil

import pytest

from assistant.errors import InputError
from tests.conftest import EXPLAINER, STORY


def test_first_ingest_adds_and_second_skips(make_assistant, seeds_copy, fake_embeddings):
    assistant = make_assistant()
    report = assistant.ingest([seeds_copy])
    assert sorted(report.added) == [STORY, EXPLAINER]
    assert report.chunks_added > 10
    calls = fake_embeddings.calls
    again = assistant.ingest([seeds_copy])
    assert again.added == [] and again.updated == [] and sorted(again.skipped) == [STORY, EXPLAINER]
    assert fake_embeddings.calls == calls  # nothing re-embedded


def test_changed_file_is_replaced_and_deleted_file_removed(make_assistant, seeds_copy):
    assistant = make_assistant()
    assistant.ingest([seeds_copy])
    before = assistant.index.count_chunks()
    story = seeds_copy / f"{STORY}.txt"
    story.write_text(story.read_text() + "\n\nOverview\n  • Zanzibar quartz prices doubled in August.\n")
    report = assistant.ingest([seeds_copy])
    assert report.updated == [STORY] and report.skipped == [EXPLAINER]
    hits = assistant.search("Zanzibar quartz prices")
    assert any("Zanzibar" in h["text"] for h in hits)
    (seeds_copy / f"{EXPLAINER}.txt").unlink()
    report = assistant.ingest([seeds_copy])
    assert report.removed == [EXPLAINER]
    assert assistant.index.count_chunks() < before
    stored = assistant.index.collection.get(include=[])["ids"]
    assert all(cid.startswith(STORY) for cid in stored)  # no orphans


def test_settings_change_rebuilds_and_says_so(make_assistant, seeds_copy, tmp_path):
    first = make_assistant(collection="shared")
    first.ingest([seeds_copy])
    second = make_assistant(collection="shared", chunk_tokens=64, chunk_overlap=8)
    report = second.ingest([seeds_copy])
    assert report.rebuilt and "rebuilding" in report.rebuilt
    assert sorted(report.added) == [STORY, EXPLAINER]


def test_refused_file_keeps_its_previous_version(make_assistant, seeds_copy):
    assistant = make_assistant()
    assistant.ingest([seeds_copy])
    (seeds_copy / f"{STORY}.txt").write_bytes(b"\x00\x00binary garbage")
    report = assistant.ingest([seeds_copy])
    assert report.errors and STORY in report.errors[0]["path"]
    assert STORY not in report.removed
    assert STORY in [d["id"] for d in assistant.documents()]


def test_missing_path_and_empty_folder_leave_index_untouched(make_assistant, seeds_copy, tmp_path):
    assistant = make_assistant()
    assistant.ingest([seeds_copy])
    count = assistant.index.count_chunks()
    with pytest.raises(InputError, match="no such file"):
        assistant.ingest([tmp_path / "missing"])
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="No supported files"):
        assistant.ingest([empty])
    assert assistant.index.count_chunks() == count


def test_orphans_from_an_interrupted_ingest_are_removed(make_assistant, seeds_copy):
    assistant = make_assistant()
    assistant.ingest([seeds_copy])
    assistant.index.collection.upsert(ids=["orphan:1"], embeddings=[[0.0] * 511 + [1.0]], documents=["x"],
                                      metadatas=[{"doc_id": "orphan"}])
    assistant.ingest([seeds_copy])
    assert "orphan:1" not in assistant.index.collection.get(include=[])["ids"]


def test_lexical_index_is_persisted_and_reloaded(make_assistant, seeds_copy, tmp_path):
    assistant = make_assistant(collection="persist")
    assistant.ingest([seeds_copy])
    assert (assistant.settings.collection_dir / "lexical" / "ids.json").exists()
    fresh = make_assistant(collection="persist")
    assert fresh.index.lexical_search("smuggling solder paste", 3)


def test_copying_a_folder_twice_reports_duplicate_ids(make_assistant, seeds_copy, tmp_path):
    other = tmp_path / "other"
    shutil.copytree(seeds_copy, other)
    report = make_assistant().ingest([seeds_copy, other])
    assert len(report.errors) == 2 and "duplicate document id" in report.errors[0]["reason"]


def test_chunks_of_several_documents_go_to_chroma_in_one_write(make_assistant, seeds_copy, monkeypatch):
    from assistant.store import index as index_module

    assistant = make_assistant()
    writes = []
    real = index_module.Index.write_chunks

    def counting(self, chunks, vectors):
        writes.append(len({c.doc_id for c in chunks}))
        return real(self, chunks, vectors)

    monkeypatch.setattr(index_module.Index, "write_chunks", counting)
    report = assistant.ingest([seeds_copy])
    assert writes == [2] and report.chunks_added == assistant.index.count_chunks()


def test_questions_after_an_ingest_do_not_reparse_the_manifest(make_assistant, seeds_copy, monkeypatch):
    from assistant.store.manifest import ManifestFile

    assistant = make_assistant()
    assistant.ingest([seeds_copy])
    loads = []
    real_load = ManifestFile.load
    monkeypatch.setattr(ManifestFile, "load", lambda self: loads.append(1) or real_load(self))
    assistant.ask("How is China enforcing its rare earth export restrictions?")
    assert loads == []  # the snapshot this process published is current; a stat says so


def test_dense_search_explores_widely_in_new_and_older_indexes(make_assistant, seeds_copy):
    from assistant.store.index import DENSE_SEARCH_EF

    assistant = make_assistant(collection="breadth")
    assistant.ingest([seeds_copy])
    collection = assistant.index.collection
    assert collection.configuration["hnsw"]["ef_search"] == DENSE_SEARCH_EF
    # An index built before the setting: opened again, it searches as widely.
    collection.modify(configuration={"hnsw": {"ef_search": 100}})
    fresh = make_assistant(collection="breadth")
    assert fresh.index.collection.configuration["hnsw"]["ef_search"] == DENSE_SEARCH_EF
    assert fresh.index.dense_search(fresh.embeddings.embed_query("smuggling"), 3)
