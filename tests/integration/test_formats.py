"""PDF, HTML and DOCX files made from the seed text by real tools, ingested and asked about.

The fixtures are built here with fpdf2, plain HTML and python-docx, so each
format is read back by the same libraries a user's files would go through.
Every file gets a distinct part of the seed text, so a question's citation
must point at the right file (and, for the PDF, the right page).
"""

from __future__ import annotations

import html
from pathlib import Path

import pytest

from assistant import Assistant
from assistant.ingest.documents import KNOWN_HEADINGS, normalise_heading
from assistant.ingest.formats import page_for_offset
from tests.conftest import EXPLAINER, SEEDS, STORY

pytestmark = pytest.mark.integration

PDF_ID, HTML_ID, DOCX_ID = "explainer_print", "story_page", "explainer_word"
# fpdf2's core fonts are latin-1: straighten typographic quotes and dashes.
_LATIN1 = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"',
                         "\u2014": "-", "\u2013": "-", "\u2022": "-"})
# The PDF starts these sections on a new page, so their page numbers are known.
PDF_PAGE_BREAKS = ("What the papers say", "How we got here")


def _seed_lines(doc_id: str) -> list[str]:
    text = (SEEDS / f"{doc_id}.txt").read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if line.strip()]


def _explainer_parts() -> tuple[list[str], list[str]]:
    """The explainer up to 'Go deeper' (for the PDF) and from 'Common question' on (for the DOCX)."""
    lines = _seed_lines(EXPLAINER)
    cut = next(i for i, line in enumerate(lines) if normalise_heading(line) == "common question")
    return lines[:cut], lines[cut:]


def make_pdf(path: Path) -> Path:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_title("Rare earths explainer (print edition)")
    pdf.set_auto_page_break(True, margin=15)
    pdf.add_page()
    pdf.set_font("Helvetica", size=11)
    for line in _explainer_parts()[0]:
        if line in PDF_PAGE_BREAKS:
            pdf.add_page()
        pdf.multi_cell(0, 6, line.translate(_LATIN1), new_x="LMARGIN", new_y="NEXT")
    pdf.output(str(path))
    return path


def make_html(path: Path) -> Path:
    """The news story as a web page, wrapped in navigation, a sidebar and a footer."""
    lines = _seed_lines(STORY)
    title_at = next(i for i, line in enumerate(lines) if line.startswith("Global Powers"))
    title = lines[title_at]
    body = []
    for line in lines[title_at + 1 :]:
        if normalise_heading(line) in KNOWN_HEADINGS:
            body.append(f"<h2>{html.escape(line)}</h2>")
        else:
            body.append(f"<p>{html.escape(line.lstrip('• ').strip())}</p>")
    nav = "".join(
        f'<li><a href="/{name.lower().replace(" ", "-")}">{name}</a></li>'
        for name in ("Home", "World", "Business", "Technology", "Sign up", "Download on the App Store")
    )
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{html.escape(title)} | Particle</title>
<meta property="og:title" content="{html.escape(title)}">
<meta property="article:published_time" content="2025-07-28T09:00:00Z">
</head><body>
<header><a class="logo" href="/">Particle.news</a><nav><ul>{nav}</ul></nav></header>
<main><article><h1>{html.escape(title)}</h1>{"".join(body)}</article>
<aside><h3>Trending now</h3><ul><li><a href="/t1">Ten things to know today</a></li>
<li><a href="/t2">Markets wrap: stocks edge higher</a></li></ul></aside></main>
<footer><p>Copyright 2025 Particle Media. All rights reserved.</p>
<p><a href="/privacy">Privacy policy</a> | <a href="/terms">Terms of service</a></p>
<p>Get it on Google Play. Download on the App Store.</p></footer>
</body></html>"""
    path.write_text(page, encoding="utf-8")
    return path


def make_docx(path: Path) -> Path:
    import docx

    document = docx.Document()
    document.add_heading("Rare earths: questions and background", level=0)
    for line in _explainer_parts()[1]:
        if line == "-":
            continue
        if normalise_heading(line) in KNOWN_HEADINGS:
            document.add_heading(line, level=1)
        elif line.endswith("?") and len(line) < 120:
            document.add_heading(line, level=2)
        else:
            document.add_paragraph(line)
    document.save(str(path))
    return path


def make_refused(folder: Path, pdf: Path, docx_path: Path) -> dict[str, str]:
    """Files ingest must refuse, each with the word its message must contain."""
    from fpdf import FPDF
    from PIL import Image

    data = pdf.read_bytes()
    (folder / "cut_short.pdf").write_bytes(data[: len(data) // 2])
    locked = FPDF()
    locked.add_page()
    locked.set_font("Helvetica", size=11)
    locked.multi_cell(0, 6, "Quota numbers were kept confidential for security reasons.")
    locked.set_encryption(owner_password="owner-secret", user_password="reader-secret")
    locked.output(str(folder / "locked.pdf"))
    picture = folder / "scan.png"
    Image.new("RGB", (600, 300), "white").save(picture)
    scan = FPDF()
    scan.add_page()
    scan.image(str(picture), x=10, y=10, w=150)
    scan.output(str(folder / "scanned.pdf"))
    picture.unlink()
    (folder / "menu_only.html").write_text(
        '<html><head><title>Home</title></head><body><nav><a href="/">Home</a> '
        '<a href="/world">World</a> <a href="/business">Business</a></nav>'
        "<footer>Copyright 2025 Example News. Download on the App Store.</footer></body></html>",
        encoding="utf-8",
    )
    data = docx_path.read_bytes()
    (folder / "half_saved.docx").write_bytes(data[: len(data) // 2])
    return {
        "cut_short.pdf": "truncated",
        "locked.pdf": "encrypted",
        "scanned.pdf": "no text layer",
        "menu_only.html": "no article text",
        "half_saved.docx": "truncated",
    }


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    folder = tmp_path_factory.mktemp("formats")
    pdf = make_pdf(folder / f"{PDF_ID}.pdf")
    make_html(folder / f"{HTML_ID}.html")
    docx_path = make_docx(folder / f"{DOCX_ID}.docx")
    refused = make_refused(folder, pdf, docx_path)
    return folder, refused


@pytest.fixture(scope="module")
def ingested(corpus, tmp_path_factory):
    folder, refused = corpus
    assistant = Assistant(index_dir=tmp_path_factory.mktemp("index"), llm="extractive")
    report = assistant.ingest([folder])
    return assistant, report, refused


def _manifest_meta(assistant: Assistant, doc_id: str) -> dict:
    return assistant.index.manifest().documents[doc_id].metadata


def _assert_viewer_matches(assistant: Assistant, answer) -> None:
    for c in answer.citations:
        assert assistant.document_text(c.source)[c.start : c.end] == c.snippet


def test_good_files_ingest_and_bad_ones_are_refused_by_name(corpus, ingested):
    assistant, report, refused = ingested
    assert sorted(report.added) == sorted([PDF_ID, HTML_ID, DOCX_ID])
    reasons = {Path(e["path"]).name: e["reason"] for e in report.errors}
    assert set(reasons) == set(refused)
    for name, word in refused.items():
        assert name in reasons[name] and word in reasons[name], reasons[name]
    again = assistant.ingest([corpus[0]])  # extraction is deterministic: nothing changes
    assert again.added == [] and again.updated == [] and sorted(again.skipped) == sorted(report.added)


def test_pdf_answer_cites_the_pdf_and_its_page(ingested):
    assistant, _, _ = ingested
    answer = assistant.ask("What share of the global rare earth market does China supply?")
    assert not answer.abstained, answer.text
    assert "90%" in answer.text
    first = answer.citations[0]
    assert first.source == PDF_ID
    meta = _manifest_meta(assistant, PDF_ID)
    assert meta["page_count"] == 3
    assert page_for_offset(meta, first.start) == 3  # "How we got here" starts page 3
    if hasattr(first, "page"):  # once answering puts the page on the citation
        assert first.page == 3
    _assert_viewer_matches(assistant, answer)


def test_pdf_pages_and_sections_survive_extraction(ingested):
    assistant, _, _ = ingested
    meta = _manifest_meta(assistant, PDF_ID)
    text = assistant.document_text(PDF_ID)
    pages = meta["pages"]
    assert [p[2] for p in pages] == [1, 2, 3]
    assert text[pages[1][0] :].startswith("What the papers say")
    assert text[pages[2][0] :].startswith("How we got here")
    papers = text.index("The Japan Times reveals")
    assert page_for_offset(meta, papers) == 2 and page_for_offset(meta, 0) == 1
    # Lines the PDF wrapped at the margin are whole sentences again.
    assert "restricting supply critical to global tech and defense industries." in text
    doc = next(d for d in assistant.documents() if d["id"] == PDF_ID)
    assert doc["title"] == "Rare earths explainer (print edition)"
    assert {"What's happened", "What the papers say", "How we got here", "Go deeper"} <= set(doc["sections"])
    assert "How is China enforcing its rare earth export restrictions?" in doc["suggested_questions"]


def test_html_answer_cites_the_article_without_boilerplate(ingested):
    assistant, _, _ = ingested
    answer = assistant.ask("By how much did China's rare earth exports rise in June?")
    assert not answer.abstained, answer.text
    assert "60.3%" in answer.text
    assert answer.citations[0].source == HTML_ID
    _assert_viewer_matches(assistant, answer)
    text = assistant.document_text(HTML_ID)
    for boilerplate in ("Download on the App Store", "Privacy policy", "Trending now", "Copyright 2025", "Sign up"):
        assert boilerplate not in text
    meta = _manifest_meta(assistant, HTML_ID)
    assert meta["published"] == "2025-07-28"
    doc = next(d for d in assistant.documents() if d["id"] == HTML_ID)
    assert doc["title"] == "Global Powers Race to Break China\u2019s Rare Earth Monopoly"
    assert "Overview" in doc["sections"]


def test_docx_answer_cites_the_word_file_and_its_heading(ingested):
    assistant, _, _ = ingested
    answer = assistant.ask("Where is MP Materials headquartered?")
    assert not answer.abstained, answer.text
    assert "Las Vegas" in answer.text
    first = answer.citations[0]
    assert first.source == DOCX_ID
    assert first.section == "More on these topics"
    _assert_viewer_matches(assistant, answer)
    doc = next(d for d in assistant.documents() if d["id"] == DOCX_ID)
    assert doc["title"] == "Rare earths: questions and background"
    assert "Common question" in doc["sections"]


def test_page_for_offset_maps_offsets_and_gaps_to_pages():
    meta = {"pages": [[0, 100, 1], [102, 250, 2], [252, 300, 4]]}  # page 3 had no text
    assert [page_for_offset(meta, o) for o in (0, 100, 101, 102, 251, 252)] == [1, 1, 1, 2, 2, 4]
    assert page_for_offset({"format": "html"}, 10) is None and page_for_offset(None, 0) is None


def test_wrapped_pdf_lines_become_paragraphs_but_headings_and_bullets_stay():
    from assistant.ingest.formats import _unwrap

    lines = [
        "What's happened",
        "China has intensified secrecy and enforcement around rare earth export",
        "quotas, restricting supply. Many companies are asking about it and then are",
        "asking: why now?",
        "- How is China enforcing its rare earth export restrictions today and why?",
        "- Why are rare earths critical?",
    ]
    assert _unwrap(lines) == [
        "What's happened",
        "China has intensified secrecy and enforcement around rare earth export quotas, restricting "
        "supply. Many companies are asking about it and then are asking: why now?",
        "- How is China enforcing its rare earth export restrictions today and why?",
        "- Why are rare earths critical?",
    ]
