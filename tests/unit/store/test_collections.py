"""Named collections on the embedded store: each its own index, settings and record."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant import Assistant
from assistant.errors import InputError, NotFoundError
from tests.fakes import HashingEmbeddings


def _corpus(folder: Path, place: str, count: int) -> Path:
    folder.mkdir(parents=True)
    (folder / f"{place.lower()}.md").write_text(
        f"# Zinc in {place}\n\nThe zinc mine in {place} employs {count} people, the ministry said in 2021.\n"
    )
    return folder


@pytest.fixture
def root(tmp_path: Path) -> Assistant:
    # Real embedded Chroma per collection folder (no injected client), fake encoder.
    return Assistant(index_dir=tmp_path / "index", llm="extractive", embeddings=HashingEmbeddings(),
                     abstain_threshold=0.1)


def test_collections_share_words_but_never_each_others_sources(root: Assistant, tmp_path: Path) -> None:
    root.collections.create("peru-mines")
    root.for_collection("peru-mines").ingest([_corpus(tmp_path / "peru", "Peru", 400)])
    Assistant(index_dir=tmp_path / "index", collection="chile-mines", llm="extractive",
              embeddings=HashingEmbeddings()).ingest([_corpus(tmp_path / "chile", "Chile", 900)])
    question = "How many people does the zinc mine employ?"
    peru = root.for_collection("peru-mines").ask(question)
    chile = root.for_collection("chile-mines").ask(question)
    assert {c.source for c in peru.citations} == {"peru"} and "400" in peru.text
    assert {c.source for c in chile.citations} == {"chile"} and "900" in chile.text
    assert [c.name for c in root.collections.list()] == ["assistant", "chile-mines", "peru-mines"]


def test_a_collection_keeps_the_settings_it_was_created_with(root: Assistant, tmp_path: Path) -> None:
    root.collections.create("small", chunk_tokens=64, chunk_overlap=8, retrieval="lexical")
    again = Assistant(index_dir=tmp_path / "index", collection="small", embeddings=HashingEmbeddings())
    assert (again.settings.chunk_tokens, again.settings.chunk_overlap, again.settings.retrieval) == (64, 8, "lexical")
    assert again.settings.collection_dir == tmp_path / "index" / "collections" / "small"
    explicit = Assistant(index_dir=tmp_path / "index", collection="small", chunk_tokens=100,
                         embeddings=HashingEmbeddings())
    assert explicit.settings.chunk_tokens == 100  # an explicit argument still wins


def test_listing_counts_documents_and_chunks_and_remembers_folders(root: Assistant, tmp_path: Path) -> None:
    corpus = _corpus(tmp_path / "peru", "Peru", 400)
    root.for_collection("assistant").ingest([corpus])
    Assistant(index_dir=tmp_path / "index", collection="peru", embeddings=HashingEmbeddings()).ingest([corpus])
    info = root.collections.get("peru")
    assert (info.documents, info.chunks > 0, info.folders) == (1, True, [str(corpus.resolve())])
    assert info.last_sync and info.created and not info.default
    assert root.collections.get("assistant").default


def test_rename_moves_documents_and_vectors_and_delete_touches_no_other(root: Assistant, tmp_path: Path) -> None:
    root.ingest([_corpus(tmp_path / "base", "Bolivia", 7)])
    root.collections.create("old-name")
    root.for_collection("old-name").ingest([_corpus(tmp_path / "peru", "Peru", 400)])
    root.collections.create("other")
    root.for_collection("other").ingest([_corpus(tmp_path / "chile", "Chile", 900)])
    root.collections.rename("old-name", "new-name")
    root.forget_collection("old-name")
    assert "400" in root.for_collection("new-name").ask("How many people does the zinc mine employ?").text
    with pytest.raises(NotFoundError, match="old-name"):
        root.for_collection("old-name")
    root.collections.delete("new-name")
    root.forget_collection("new-name")
    assert not (tmp_path / "index" / "collections" / "new-name").exists()
    assert "900" in root.for_collection("other").ask("How many people does the zinc mine employ?").text
    assert root.documents()[0]["id"] == "bolivia"  # the default collection is untouched


@pytest.mark.parametrize(
    ("name", "why"),
    [("", "empty"), ("a" * 64, "at most 63"), ("../etc", "path characters"), ("x/y", "path characters"),
     ("ab", "3-63"), ("a__b", "'__'"), ("-ab", "3-63")],
)
def test_a_bad_name_is_refused_naming_it(root: Assistant, name: str, why: str) -> None:
    with pytest.raises(InputError, match=why) as err:
        root.collections.create(name)
    assert repr(name) in str(err.value)


def test_missing_and_default_collections_are_refused_clearly(root: Assistant, tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="No collection named 'nope'.*collections create nope"):
        Assistant(index_dir=tmp_path / "index", collection="nope", embeddings=HashingEmbeddings()).ask("Why?")
    with pytest.raises(InputError, match="cannot be deleted"):
        root.collections.delete("assistant")
    with pytest.raises(InputError, match="cannot be renamed"):
        root.collections.rename("assistant", "elsewhere")
    root.collections.create("taken")
    with pytest.raises(InputError, match="already exists"):
        root.collections.create("taken")
    with pytest.raises(InputError, match="Unknown collection setting"):
        root.collections.create("fresh", llm="openai")


def test_document_delete_and_reindex(root: Assistant, tmp_path: Path) -> None:
    corpus = _corpus(tmp_path / "peru", "Peru", 400)
    (corpus / "chile.md").write_text("# Chile\n\nThe copper mine in Chile employs 900 people.\n")
    root.ingest([corpus])
    root.delete_document("chile")
    assert [d["id"] for d in root.documents()] == ["peru"]
    assert not (root.settings.collection_dir / "documents" / "chile.txt").exists()
    with pytest.raises(NotFoundError, match="chile"):
        root.delete_document("chile")
    report = root.reindex_document("peru")
    assert report.updated == ["peru"]
    (corpus / "peru.md").unlink()
    with pytest.raises(InputError, match="is gone"):
        root.reindex_document("peru")


def test_ensure_accepts_a_collection_another_process_created_since_its_check(root: Assistant, monkeypatch) -> None:
    # Two machines ingest into a new name at once: both see it missing, the other creates it first.
    collections = root.collections
    other = Assistant(index_dir=root.settings.index_dir, llm="extractive", embeddings=HashingEmbeddings())
    real_exists = type(collections).exists
    checked = []

    def missing_at_first_check(self, name):
        if not checked:
            checked.append(name)
            other.collections.create(name)  # the other machine wins the race here
            return False
        return real_exists(self, name)

    monkeypatch.setattr(type(collections), "exists", missing_at_first_check)
    assert collections.ensure("shared") is False
    assert "shared" in collections.names()
    with pytest.raises(InputError, match="already exists"):
        collections.create("shared")
