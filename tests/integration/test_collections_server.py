"""Collections on a real ``chroma run`` server: every machine sharing it sees the same collections.

Two assistants with their own index folders stand for two machines; the
collections' records, manifests and chunks all live in the server.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant import Assistant
from assistant.errors import NotFoundError
from tests.fakes import HashingEmbeddings
from tests.integration.chroma_server import running_chroma

QUESTION = "How many people does the zinc mine employ?"
pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def chroma_url(tmp_path_factory):
    with running_chroma(tmp_path_factory.mktemp("chroma")) as server:
        yield server.url


def _machine(url: str, folder: Path) -> Assistant:
    return Assistant(index_dir=folder, llm="extractive", chroma_url=url, embeddings=HashingEmbeddings(),
                     abstain_threshold=0.1)


def _corpus(folder: Path, place: str, count: int) -> Path:
    folder.mkdir(parents=True)
    (folder / f"{place.lower()}.md").write_text(f"# Zinc in {place}\n\nThe zinc mine in {place} employs {count} people.\n")
    return folder


def test_two_machines_share_collections_through_the_server(chroma_url: str, tmp_path: Path) -> None:
    one, two = _machine(chroma_url, tmp_path / "one"), _machine(chroma_url, tmp_path / "two")
    one.collections.create("peru", chunk_tokens=64, chunk_overlap=8)
    one.for_collection("peru").ingest([_corpus(tmp_path / "peru", "Peru", 400)])
    two.for_collection("assistant").collections.ensure("chile")
    two.for_collection("chile").ingest([_corpus(tmp_path / "chile", "Chile", 900)])

    listed = {c.name: c for c in two.collections.list()}
    assert set(listed) == {"assistant", "peru", "chile"}
    assert listed["peru"].settings["chunk_tokens"] == 64 and listed["peru"].documents == 1
    assert two.for_collection("peru").settings.chunk_tokens == 64  # the record, not this machine's env
    peru = two.for_collection("peru").ask(QUESTION)
    chile = one.for_collection("chile").ask(QUESTION)
    assert {c.source for c in peru.citations} == {"peru"} and "400" in peru.text
    assert {c.source for c in chile.citations} == {"chile"} and "900" in chile.text

    two.collections.rename("chile", "andes")
    assert "900" in one.for_collection("andes").ask(QUESTION).text
    one.collections.delete("andes")
    one.forget_collection("andes")
    assert [c.name for c in two.collections.list()] == ["assistant", "peru"]
    with pytest.raises(NotFoundError, match="andes"):
        two.for_collection("andes")
    import chromadb

    host, port = chroma_url.rsplit(":", 1)
    names = {c.name for c in chromadb.HttpClient(host="127.0.0.1", port=int(port)).list_collections()}
    assert not any(n.startswith(("andes", "chile")) for n in names), names
    assert {"peru", "peru__manifest"} <= names
