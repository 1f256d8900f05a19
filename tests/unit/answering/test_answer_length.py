"""A one-fact answer shows its lead alone when the lead reads as the answer by a margin."""

from __future__ import annotations

import pytest

from assistant.answering.answer_length import LEAD_MARGIN, lead_stands_alone
from assistant.answering.chain import AnswerChain
from assistant.answering.evidence import GatheredEvidence, Span
from assistant.settings import Settings
from tests.unit.answering.test_language_checks import (
    _Vectors,  # an encoder whose cosines the test sets
)

QUESTION = "When was the Muslim Brotherhood founded?"
LEAD = "The Muslim Brotherhood was founded in Ismailiyah, Egypt in 1928 by Hassan al Banna."
NEXT = "The Brotherhood took a quiescent stance towards Israel for some decades."


def _unit(cosine: float) -> list[float]:
    """A unit vector whose cosine with [1, 0] is ``cosine``."""
    return [cosine, (1 - cosine**2) ** 0.5]


def _span(text: str, start: int = 0) -> Span:
    return Span("d", "T", "S", start, start + len(text), text, "d:1", score=0.8)


def _encoder(lead: float, runner_up: float) -> _Vectors:
    return _Vectors({QUESTION: [1.0, 0.0], LEAD: _unit(lead), NEXT: _unit(runner_up)})


@pytest.mark.parametrize(("lead", "runner_up", "alone"), [
    (0.90, 0.80, True),
    (0.90, 0.90 - LEAD_MARGIN - 0.001, True),
    (0.90, 0.90 - LEAD_MARGIN + 0.001, False),  # the second reads nearly as close: it may hold the answer
    (0.84, 0.90, False),
])
def test_the_lead_stands_alone_only_by_the_margin(lead, runner_up, alone):
    evidence = [_span(LEAD), _span(NEXT, 200)]
    assert lead_stands_alone(QUESTION, evidence, evidence, _encoder(lead, runner_up)) is alone


def test_a_single_sentence_has_nothing_to_drop():
    assert not lead_stands_alone(QUESTION, [_span(LEAD)], [_span(LEAD)], _encoder(0.9, 0.1))


def test_a_second_sentence_continuing_the_lead_stays():
    question = "2014 S/S is the debut album of a South Korean boy group that was formed by who?"
    lead = _span("2014 S/S is the debut album of South Korean group WINNER.")
    goes_on = _span("It was released on August 12, 2014 by the group's record label, YG Entertainment.", 60)
    encoder = _Vectors({question: [1.0, 0.0], lead.text: _unit(0.92), goes_on.text: _unit(0.80)})
    goes_on.previous = 0
    assert not lead_stands_alone(question, [lead, goes_on], [lead, goes_on], encoder)
    # The same sentence elsewhere in the document, not right after the lead: the lead stands alone.
    goes_on.previous = None
    assert lead_stands_alone(question, [lead, goes_on], [lead, goes_on], encoder)


def _chain(encoder) -> AnswerChain:
    return AnswerChain(Settings(), retriever=None, embeddings=None, chat_model=None, index=None, judge=None,
                       matcher=encoder)


def test_the_chain_shortens_only_a_measured_one_fact_answer_still_led_by_its_lead():
    lead, second = _span(LEAD), _span(NEXT, 200)
    chain = _chain(_encoder(0.9, 0.7))
    measured = GatheredEvidence([], [lead, second], [lead, second], match=0.9)
    assert chain._shortened(QUESTION, measured, lead) == [lead]
    # No match check ran (an encoder without a calibrated threshold): the margin means nothing.
    unmeasured = GatheredEvidence([], [lead, second], [lead, second], match=None)
    assert chain._shortened(QUESTION, unmeasured, lead) == [lead, second]
    # A sentence naming what the lead refers to went first: both stay.
    named_first = GatheredEvidence([], [lead, second], [second, lead], match=0.9)
    assert chain._shortened(QUESTION, named_first, lead) == [second, lead]


def test_a_broad_question_keeps_its_evidence():
    broad = "How is China enforcing its rare earth export restrictions?"
    lead, second = _span(LEAD), _span(NEXT, 200)
    encoder = _Vectors({broad: [1.0, 0.0], LEAD: _unit(0.9), NEXT: _unit(0.5)})
    gathered = GatheredEvidence([], [lead, second], [lead, second], match=0.9)
    assert _chain(encoder)._shortened(broad, gathered, lead) == [lead, second]
