"""A broad answer's sentences in reading order: what a sentence points back at comes right before it."""

from __future__ import annotations

from assistant.answering.arrangement import arrange_for_reading, leans_on_what_came_before
from assistant.answering.evidence import Span
from assistant.evaluation.metrics import dangling_reference_share
from assistant.text.language import opens_with_reference

BROAD = "How is China enforcing its rare earth export restrictions?"


def _paragraph(*sentences: str, doc_id: str = "story", first: int = 0) -> list[Span]:
    """Consecutive sentences of one paragraph, as gather's spans (``first``: the index of the first)."""
    spans, start = [], 0
    for i, text in enumerate(sentences):
        spans.append(Span(doc_id, "Title", "", start, start + len(text), text, f"{doc_id}:0",
                          previous=first + i - 1 if i else None))
        start += len(text) + 1
    return spans


DOMINATES = "China dominates global rare earth production, supplying about 90% of the market."
QUOTAS = "Since 2006, it has used export quotas to control supply."
SMUGGLING = "The Ministry of State Security revealed efforts to disrupt smuggling via fake labels."
LICENCES = "Exporters now need a licence for each shipment of magnets."


def test_a_sentence_pointing_back_brings_the_sentence_it_points_at():
    dominates, quotas = _paragraph(DOMINATES, QUOTAS)
    smuggling, = _paragraph(SMUGGLING, doc_id="other", first=2)
    spans = [dominates, quotas, smuggling]
    assert arrange_for_reading(BROAD, spans, [smuggling, quotas]) == [smuggling, dominates, quotas]


def test_a_lead_pointing_back_still_leads_for_it_is_the_answer():
    dominates, quotas = _paragraph(DOMINATES, QUOTAS)
    smuggling, = _paragraph(SMUGGLING, doc_id="other", first=2)
    spans = [dominates, quotas, smuggling]
    assert arrange_for_reading(BROAD, spans, [quotas, smuggling]) == [quotas, smuggling]


def test_the_lead_stays_first_and_each_document_keeps_its_source_order():
    smuggling, licences = _paragraph(SMUGGLING, LICENCES)
    dominates, = _paragraph(DOMINATES, doc_id="other", first=2)
    spans = [smuggling, licences, dominates]
    assert arrange_for_reading(BROAD, spans, [licences, dominates, smuggling]) == [licences, smuggling, dominates]


def test_a_question_asking_one_thing_is_left_alone():
    dominates, quotas = _paragraph(DOMINATES, QUOTAS)
    assert arrange_for_reading("Since when has China used export quotas?", [dominates, quotas], [quotas]) == [quotas]


def test_subjects_that_point_back():
    assert opens_with_reference(QUOTAS)
    assert opens_with_reference("This dynamic underscores the strategic importance of rare earths.")
    assert opens_with_reference("Its exports fell 5% in June.")
    assert not opens_with_reference(DOMINATES)
    assert not opens_with_reference("Apple said it would invest $500 million in the mine.")


def test_a_pointing_sentence_dangles_unless_its_source_predecessor_comes_right_before_it():
    dominates, quotas = _paragraph(DOMINATES, QUOTAS)

    def cited(*spans: Span) -> list[tuple[str, str, int, int]]:
        return [(s.text, s.doc_id, s.start, s.end) for s in spans]

    assert dangling_reference_share(cited(dominates, quotas), opens_with_reference) == 0.0
    assert dangling_reference_share(cited(quotas, dominates), opens_with_reference) == 0.5
    assert dangling_reference_share([], opens_with_reference) is None


def test_a_later_sentence_pointing_back_past_its_paragraph_is_left_out():
    smuggling, licences = _paragraph(SMUGGLING, LICENCES)
    dynamic, = _paragraph("This dynamic underscores the strategic importance of rare earths.", doc_id="other",
                          first=2)
    spans = [smuggling, licences, dynamic]
    assert arrange_for_reading(BROAD, spans, [smuggling, dynamic, licences]) == [smuggling, licences]
    assert arrange_for_reading(BROAD, spans, [dynamic, smuggling]) == [dynamic, smuggling]


def test_a_quotation_with_no_speaker_brings_the_sentence_naming_who_spoke():
    said, quote = _paragraph("“I think she stood up for what she believes in,” said John Gray, a voter.",
                             "“It took a lot of courage to stand against the party.”")
    smuggling, = _paragraph(SMUGGLING, doc_id="other", first=2)
    assert arrange_for_reading(BROAD, [said, quote, smuggling], [smuggling, quote]) == [smuggling, said, quote]


def test_what_leans_on_what_came_before():
    assert leans_on_what_came_before("“It took a lot of courage to stand against the party.”")
    assert leans_on_what_came_before('"We will not let this happen. Never."')
    assert not leans_on_what_came_before("“We will not let this happen,” Zelensky said.")
    assert not leans_on_what_came_before('"Bridgerton" was the most-watched show of the week.')


def test_an_it_standing_for_a_later_clause_points_at_nothing_before():
    assert not opens_with_reference("It is possible to use a rotary engine in place of the cylinders.")
    assert not opens_with_reference("It is unclear whether the ban will hold.")
    assert opens_with_reference("It was founded by Larry Roberts.")
