"""Hard-wrapped plain text is joined back into paragraphs; anything else is left as written."""

import textwrap
from pathlib import Path

from assistant.ingest.chunking import chunk_document
from assistant.ingest.documents import load_documents
from assistant.ingest.unwrap import unwrap_hard_wrapped
from assistant.text.sentences import sentence_spans
from tests.conftest import SEEDS

RHINE = [
    "The Rhine is a European river that begins in the Swiss canton of Graubünden in the southeastern "
    "Swiss Alps, forms part of the Swiss-Austrian, Swiss-Liechtenstein border, Swiss-German and then the "
    "Franco-German border, then flows through the Rhineland and eventually empties into the North Sea in "
    "the Netherlands. It is the second-longest river in Central and Western Europe (after the Danube), at "
    "about 1,230 km (760 mi), with an average discharge of about 2,900 m3/s.",
    "The variant forms of the name of the Rhine in modern languages are all derived from the Gaulish name "
    "Renos, which was adapted in Roman-era geography (1st century BC) as Greek Rhenos, Latin Rhenus. The "
    "spelling with Rh- in English Rhine as well as in German Rhein and French Rhin is due to the influence "
    "of Greek orthography.",
]


def _wrapped(width: int = 72) -> str:
    return "Rhine\n\n" + "\n\n".join(textwrap.fill(p, width) for p in RHINE) + "\n"


def test_a_text_wrapped_at_a_margin_gets_one_line_per_paragraph():
    text = unwrap_hard_wrapped(_wrapped())
    assert text == "Rhine\n\n" + "\n\n".join(RHINE) + "\n"


def test_a_word_the_margin_split_at_its_hyphen_is_joined_without_a_space():
    wrapped = textwrap.fill(RHINE[0], 72, break_on_hyphens=True)
    assert any(line.endswith("-") for line in wrapped.splitlines())
    assert unwrap_hard_wrapped(wrapped + "\n\n" + textwrap.fill(RHINE[1], 72)).startswith(RHINE[0])


def test_windows_line_ends_are_joined_too():
    assert unwrap_hard_wrapped(_wrapped().replace("\n", "\r\n")).split("\n\n")[1] == RHINE[0]


def test_one_paragraph_per_line_text_is_left_exactly_as_written():
    for path in sorted(SEEDS.iterdir()):
        text = path.read_text(encoding="utf-8")
        assert unwrap_hard_wrapped(text) is text


def test_bullets_headings_tables_and_code_keep_their_lines():
    prose = textwrap.fill(" ".join(RHINE), 70)
    kept = (
        "# Rhine\n\n"
        "Reserved ids:\n"
        "    uid   | name\n"
        "    ------+------\n"
        "    63434 | netplan\n\n"
        "```\n"
        "assistant ingest seeds/ --with-a-long-option-that-runs-on-past-the-margin-of-the-text\n"
        "assistant ask 'How long is the Rhine?'\n"
        "```\n"
    )
    text = unwrap_hard_wrapped(f"{prose}\n\n- first item of a list\n- second item\n\n{kept}")
    assert text.startswith(" ".join(RHINE) + "\n\n- first item of a list\n- second item\n\n")
    assert text.endswith(kept)


def test_a_wrapped_file_is_cut_into_whole_sentences_at_ingest(tmp_path: Path):
    (tmp_path / "rhine.txt").write_text(_wrapped(), encoding="utf-8")
    (doc,), errors = load_documents([tmp_path])
    assert not errors
    sentences = [doc.text[s:e] for s, e in sentence_spans(doc.text)]
    assert "It is the second-longest river in Central and Western Europe (after the Danube), at about 1,230 km " \
           "(760 mi), with an average discharge of about 2,900 m3/s." in sentences
    assert all("\n" not in doc.text[c.start:c.end] or "\n\n" in doc.text[c.start:c.end]
               for c in chunk_document(doc))
