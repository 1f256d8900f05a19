"""Markdown files are indexed as their reader reads them: no syntax in answers, whole paragraphs."""

from pathlib import Path

from assistant.ingest.documents import load_documents
from assistant.ingest.markdown_text import markdown_to_text
from assistant.text.sentences import sentence_spans

NEWS = """---
title: "Port strike ends after nine days"
author: Jane Doe
---

*By Jane Doe, 3 March 2025*

Dock workers at the **Port of Rotterdam** ended their strike on Friday after the
union accepted a 6% pay rise, according to [Reuters](https://www.reuters.com/world/port-strike).
The walkout had halted about 40% of container traffic, the port authority said.

![Cranes at the port](images/cranes.jpg)

## What happens next

- Ships queued offshore will be cleared within a _week_.
- The union will vote on a longer deal in **April**:
  1. a two-year contract;
  2. a `night-shift` bonus.

| Terminal | Ships waiting |
|---|---|
| Maasvlakte | 14 |

```
docker compose up
```
"""


def test_syntax_is_read_as_text_and_wrapped_paragraphs_are_joined():
    text = markdown_to_text(NEWS)
    assert text.startswith("# Port strike ends after nine days\n\nBy Jane Doe, 3 March 2025\n\n")
    assert ("Dock workers at the Port of Rotterdam ended their strike on Friday after the union accepted a 6% "
            "pay rise, according to Reuters. The walkout had halted about 40% of container traffic, the port "
            "authority said.") in text
    for syntax in ("**", "](", "https://", "![", "Cranes at the port", "author:", "`"):
        assert syntax not in text


def test_structure_is_kept_headings_bullets_numbered_items_table_rows_and_code():
    lines = [line for line in markdown_to_text(NEWS).splitlines() if line]
    assert "## What happens next" in lines
    assert "- Ships queued offshore will be cleared within a week." in lines
    assert "  1. a two-year contract;" in lines and "  2. a night-shift bonus." in lines
    assert "Terminal | Ships waiting" in lines and "Maasvlakte | 14" in lines
    assert lines[-1] == "docker compose up"


def test_a_word_wrapped_at_its_hyphen_is_joined_without_a_space():
    assert markdown_to_text("forms part of the Swiss-\nLiechtenstein border") == \
        "forms part of the Swiss-Liechtenstein border\n"


def test_a_file_without_markdown_syntax_keeps_its_lines():
    text = "Rare earths\n\nChina restricts exports.\n\nThe US responds.\n"
    assert markdown_to_text(text) == "Rare earths\n\nChina restricts exports.\n\nThe US responds.\n"


def test_an_ingested_markdown_file_cites_whole_sentences_without_syntax(tmp_path: Path):
    (tmp_path / "strike.md").write_text(NEWS, encoding="utf-8")
    (doc,), errors = load_documents([tmp_path])
    assert not errors and doc.title == "Port strike ends after nine days"
    sentences = [doc.text[s:e] for s, e in sentence_spans(doc.text)]
    assert ("Dock workers at the Port of Rotterdam ended their strike on Friday after the union accepted a 6% "
            "pay rise, according to Reuters.") in sentences
    assert [b.section for b in doc.blocks if "Ships queued" in doc.text[b.start:b.end]] == ["What happens next"]


def test_html_blocks_are_read_by_their_text_and_scripts_dropped():
    text = markdown_to_text('<div class="note">\n<p>The zinc mine <b>reopened</b>.</p>\n<script>alert(1)</script>\n</div>\n')
    assert text == "The zinc mine reopened.\n"


def test_a_markdown_file_with_nothing_to_read_is_refused_by_name(tmp_path: Path):
    (tmp_path / "picture.md").write_text("![a chart](chart.png)\n", encoding="utf-8")
    (tmp_path / "notes.md").write_text("# Notes\n\nThe zinc mine reopened.\n", encoding="utf-8")
    docs, errors = load_documents([tmp_path])
    assert [d.id for d in docs] == ["notes"]
    assert len(errors) == 1 and "picture.md" in errors[0][0] and "no text a reader would see" in errors[0][1]
