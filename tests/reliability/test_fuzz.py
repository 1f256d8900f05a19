"""Fuzz the parsers with hypothesis: no crash, and the span invariants hold for any text."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assistant.answering.verification import (
    CITATION_MARK,
    parse_markers,
    split_claims,
    strip_markers,
)
from assistant.ingest.documents import parse_document
from assistant.text.sentences import sentence_spans
from tests.reliability.conftest import record

pytestmark = pytest.mark.fuzz

EXAMPLES = 300
# Text that looks like the pages we parse (headings, bullets, markers, quotes,
# odd whitespace, control characters) mixed with arbitrary unicode.
_PIECES = st.sampled_from([
    "# Title\n", "## Go deeper\n", "What's happened\n", "- How is China enforcing it?\n", "• bullet\n",
    "1) first\n", "Mr. Smith said.", " U.S. exports fell 7.5% in June. ", "“Quoted.” ", "[1]", " [2, 3]",
    "[999]", "[1000]", "[", "]", ".", "?", "!", "\r\n", "\n\n", "\t", "\x00", "\x0b", "\x0c", "\u2028",
    "\u2029", "\x85", "\ufeff", "(AP Photo/X)", "<script>alert(1)</script>", "March 3, 2025", "A", " ",
])
TEXT = st.one_of(st.text(max_size=400), st.lists(st.one_of(_PIECES, st.text(max_size=20)), max_size=40).map("".join))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(TEXT)
def test_parse_document_never_crashes_and_blocks_are_spans_of_the_text(text):
    doc = parse_document(text, "fuzz")
    assert doc.text == text and isinstance(doc.title, str)
    for block in doc.blocks:
        assert 0 <= block.start < block.end <= len(text)
        assert text[block.start : block.end].strip()
    assert [b.start for b in doc.blocks] == sorted(b.start for b in doc.blocks)
    assert isinstance(doc.sections, list) and isinstance(doc.metadata["dates"], list)


_WRAPPED = st.lists(st.sampled_from([
    "The zinc mine in Peru employs\n", "many people, the board said on\n", "Monday.\n", "\n", "- a bullet that runs on\n",
    "    indented | code\n", "=====\n", "```\n", "Swiss-\n", "Liechtenstein border\n", "# Heading\n", "**bold** [a](b)\n",
    "<div>html <script>x</script></div>\n", "---\ntitle: T\n---\n", "| a | b |\n|---|---|\n| 1 | 2 |\n",
]), max_size=40).map("".join)


@FUZZ
@given(st.one_of(TEXT, _WRAPPED))
def test_plain_text_and_markdown_readers_never_crash_and_keep_the_words(text):
    from assistant.ingest.markdown_text import markdown_to_text
    from assistant.ingest.unwrap import unwrap_hard_wrapped

    unwrapped = unwrap_hard_wrapped(text)
    assert "".join(unwrapped.split()) == "".join(text.split())  # only line breaks and spaces change
    parse_document(unwrapped, "fuzz")
    read = markdown_to_text(text)
    assert isinstance(read, str) and read.endswith("\n")
    parse_document(read, "fuzz")


@FUZZ
@given(TEXT, st.integers(0, 50), st.integers(0, 50))
def test_sentence_spans_are_trimmed_ordered_non_overlapping(text, a, b):
    start, end = min(a, b, len(text)), min(max(a, b), len(text))
    for s, e in [*sentence_spans(text), *sentence_spans(text, start, end)]:
        assert 0 <= s < e <= len(text)
        piece = text[s:e]
        assert piece.strip() and piece == piece.strip()
    spans = sentence_spans(text)
    assert all(spans[i][1] <= spans[i + 1][0] for i in range(len(spans) - 1))
    for s, e in sentence_spans(text, start, end):
        assert start <= s and e <= end


@FUZZ
@given(TEXT)
def test_citation_parsing_never_crashes(text):
    numbers = parse_markers(text)
    assert all(isinstance(n, int) and 0 <= n <= 999 for n in numbers)
    assert len(numbers) >= len(CITATION_MARK.findall(text))
    claims = split_claims(text)
    assert all(c.strip() == c and c for c in claims)
    assert parse_markers(strip_markers(text)) == []
    # Markers survive claim splitting: none is lost or invented.
    assert sorted(n for c in claims for n in parse_markers(c)) == sorted(numbers)


def test_record_fuzz_budget():
    record("bad_input", "fuzzing (hypothesis)", examples_per_target=EXAMPLES,
           targets=["documents.parse_document", "textutils.sentence_spans",
                    "citations.parse_markers / split_claims / strip_markers"])
