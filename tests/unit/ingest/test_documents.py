from pathlib import Path

import pytest

from assistant.errors import InputError
from assistant.ingest.chunking import chunk_document
from assistant.ingest.documents import load_documents, parse_document
from tests.conftest import EXPLAINER, SEEDS, STORY


@pytest.fixture(scope="module")
def seeds():
    docs, errors = load_documents([SEEDS])
    assert errors == []
    return {d.id: d for d in docs}


def test_story_title_lede_captions_and_overview(seeds):
    doc = seeds[STORY]
    assert doc.title == "Global Powers Race to Break China’s Rare Earth Monopoly"
    kinds = {b.kind for b in doc.blocks}
    assert {"title", "caption", "bullet", "heading", "boilerplate"} <= kinds
    assert sum(1 for b in doc.blocks if b.kind == "caption") == 4
    assert sum(1 for b in doc.blocks if b.kind == "bullet" and b.section == "Overview") == 5


def test_explainer_sections(seeds):
    sections = seeds[EXPLAINER].sections
    for name in ["What's happened", "What the papers say", "How we got here", "Go deeper",
                 "Common question", "More on these topics"]:
        assert name in sections
    assert any(s.startswith("What's behind the headline? / Smuggling Crackdown") for s in sections)


def test_go_deeper_questions_become_suggestions(seeds):
    assert seeds[EXPLAINER].metadata["suggested_questions"] == [
        "How is China enforcing its rare earth export restrictions?",
        "What steps is the US taking to reduce dependence on Chinese rare earths?",
        "Why are rare earths so critical to technology and defense industries?",
    ]


def test_dates_are_found(seeds):
    texts = {d["text"] for d in seeds[EXPLAINER].metadata["dates"]}
    assert {"late July 2025", "27 Jul 2025", "21 Jul 2025", "16 Jul 2025"} <= texts
    assert seeds[STORY].metadata["newest_date"] == "2025-07-18"


def test_a_dateline_among_the_first_lines_is_the_publication_date(seeds):
    doc = parse_document("Published July 7, 2022\n\nCNN —\n\nJohnson resigned on Thursday, "
                         "three years after he won in December 2019.", "d", "d.txt")
    assert doc.metadata["published"] == "2022-07-07"
    # A date inside the first paragraph is not a dateline, and the seeds have none.
    assert "published" not in parse_document("Johnson, who won in December 2019, resigned on Thursday "
                                             "after a revolt over scandals.", "d", "d.txt").metadata
    assert all("published" not in doc.metadata for doc in seeds.values())


def test_app_store_boilerplate_is_not_embedded(seeds):
    chunks = chunk_document(seeds[STORY])
    assert all("App Store" not in c.text and "Particle.news" not in c.text for c in chunks)


def test_an_embedded_video_card_is_not_embedded():
    text = ("Sri Lanka in crisis\n\nThe country ran out of fuel in June after its reserves fell.\n\n"
            "Video Ad Feedback 'Years of economic mismanagement': Why Sri Lanka has a fuel crisis 05:11 - Source: CNNI\n\n"
            "Protesters stormed the residence on Saturday.")
    chunks = chunk_document(parse_document(text, "d", "d.txt"))
    assert chunks and all("Source: CNNI" not in c.text for c in chunks)
    assert any("stormed" in c.text for c in chunks)


def test_go_deeper_question_list_is_not_a_chunk(seeds):
    chunks = chunk_document(seeds[EXPLAINER])
    assert all(c.section != "Go deeper" for c in chunks)


def test_markdown_headings_become_sections():
    doc = parse_document("# My notes\n\n## Costs\nIt costs 5 dollars.\n\n## Risks\nIt may break.\n", "notes")
    assert doc.title == "My notes"
    assert doc.sections == ["Costs", "Risks"]


@pytest.mark.parametrize(
    ("name", "content", "fragment"),
    [
        ("empty.txt", b"", "empty"),
        ("blank.txt", b"   \n\n", "whitespace"),
        ("binary.txt", b"\x00\x01\x02binary", "binary"),
        ("latin1.txt", "caf\xe9".encode("latin-1"), "UTF-8"),
    ],
)
def test_bad_files_are_refused_by_name_and_the_rest_loads(tmp_path: Path, name, content, fragment):
    (tmp_path / "good.txt").write_text("A fine document about rare earths.\n")
    (tmp_path / name).write_bytes(content)
    docs, errors = load_documents([tmp_path])
    assert [d.id for d in docs] == ["good"]
    assert len(errors) == 1 and errors[0][0].endswith(name) and fragment in errors[0][1]


def test_missing_path_raises_with_the_path(tmp_path: Path):
    with pytest.raises(InputError, match="nope"):
        load_documents([tmp_path / "nope"])


def test_unsupported_extension_is_reported(tmp_path: Path):
    (tmp_path / "a.pdfx").write_text("x")
    _, errors = load_documents([tmp_path])
    assert "unsupported file type '.pdfx'" in errors[0][1]


def test_size_cap(tmp_path: Path):
    (tmp_path / "big.txt").write_text("word " * 100)
    _, errors = load_documents([tmp_path], max_bytes=100)
    assert "limit" in errors[0][1]


def test_symlink_loop_does_not_hang(tmp_path: Path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "doc.txt").write_text("Text about quotas.")
    (tmp_path / "a" / "loop").symlink_to(tmp_path / "a")
    docs, errors = load_documents([tmp_path])
    assert [d.id for d in docs] == ["doc"]
    assert any("symlink loop" in reason for _, reason in errors)


@pytest.mark.parametrize(
    "dateline",
    ["Published June 12, 2022", "Updated 10:21 AM EDT, Sun June 12, 2022", "June 12, 2022",
     "Last updated on July 3, 2022 at 4:05 p.m."],
)
def test_a_dateline_on_top_does_not_title_the_article(dateline):
    from assistant.text.dates import is_dateline

    assert is_dateline(dateline)
    titled = parse_document(f"{dateline}\n\nNetflix renews Squid Game\n\nNetflix said on Sunday the show returns.\n", "a")
    assert titled.title == "Netflix renews Squid Game"
    untitled = parse_document(f"{dateline}\n\nNetflix said on Sunday the show returns. It will.\n", "b")
    assert untitled.title == "Netflix said on Sunday the show returns."
    assert not is_dateline("Biden signed the bill on June 12, 2022")
