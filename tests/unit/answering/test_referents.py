"""A lead sentence that refers to what was asked without naming it gets the sentence naming it first."""

from __future__ import annotations

from assistant.answering.evidence import Span
from assistant.answering.referents import name_the_referent


def _passage(*sentences: str, doc_id: str = "story") -> list[Span]:
    """Consecutive sentences of one passage, one space apart, as gather's spans."""
    spans, start = [], 0
    for text in sentences:
        spans.append(Span(doc_id, "Title", "", start, start + len(text), text, f"{doc_id}:0"))
        start += len(text) + 1
    return spans


NAMING = "More than 4,000 applicants were told they had been accepted to Northeastern University's law school."
REFERRING = "There was just one problem: the letters were sent by mistake, according to the university."
UNIVERSITY = "Which university sent acceptance letters by mistake?"


def test_the_sentence_naming_what_the_lead_calls_the_university_goes_first():
    named, lead = _passage(NAMING, REFERRING)
    assert name_the_referent(UNIVERSITY, [named, lead], [lead]) == [named, lead]


def test_a_lead_that_names_it_is_left_alone():
    named, lead = _passage(NAMING, "The letters were sent by mistake, according to Northeastern University.")
    assert name_the_referent(UNIVERSITY, [named, lead], [lead]) == [lead]


def test_a_name_anywhere_in_the_phrase_is_naming_it():
    # "the time of the Miocene" names the time; a definite noun alone would not.
    before, lead = _passage("The Alps rose as Africa pushed north.",
                            "By the time of the Miocene, a river system had developed in the Upper Rhine Graben.")
    question = "What time did a river system develop in the Upper Rhine Graben?"
    assert name_the_referent(question, [before, lead], [lead]) == [lead]


def test_a_pronoun_doing_what_the_question_asks_about_is_a_reference():
    named, lead = _passage("Blink-182 is coming to a city near you.", "They are dropping a new single on Friday.")
    question = "Which band announced it is dropping a new single?"
    assert name_the_referent(question, [named, lead], [lead]) == [named, lead]


def test_a_pronoun_lead_that_names_a_thing_of_the_kind_asked_is_left_alone():
    before, lead = _passage("Telenet was the first public data network in the United States.",
                            "It was founded by former ARPA director Larry Roberts.")
    assert name_the_referent("Who founded Telenet?", [before, lead], [lead]) == [lead]


def test_only_the_sentence_right_before_the_lead_counts():
    named, _between, lead = _passage(NAMING, "Admissions decisions are not final yet.", REFERRING)
    assert name_the_referent(UNIVERSITY, [named, lead], [lead]) == [lead]


def test_a_sentence_before_that_names_nothing_new_is_not_put_first():
    before, lead = _passage("Admissions decisions at the school are not final yet.", REFERRING)
    assert name_the_referent(UNIVERSITY, [before, lead], [lead]) == [lead]


def test_broad_questions_are_left_alone():
    named, lead = _passage(NAMING, REFERRING)
    assert name_the_referent("Why did the university apologise?", [named, lead], [lead]) == [lead]


def test_a_date_after_the_noun_does_not_name_it_but_one_before_it_does():
    named, lead = _passage("It was a good morning for the casts of “Succession” and “Ted Lasso.”",
                           "The shows on Tuesday earned several nominations for the 74th Emmy Awards.")
    question = "Which show received the most nominations for the 2022 Emmy Awards?"
    assert name_the_referent(question, [named, lead], [lead]) == [named, lead]
    before, dated = _passage("Expect continued Chinese export controls and US efforts to build supply chains.",
                             "The August 12 trade negotiation deadline may influence future export policies.")
    question = "Which trade negotiation deadline may influence future export policies?"
    assert name_the_referent(question, [before, dated], [dated]) == [dated]


def test_a_passive_pronoun_stands_for_what_the_question_asks_as_its_object():
    named, lead = _passage("Pitt embarked on a plan for the 1758 campaign that was largely developed by Loudoun.",
                           "He had been replaced by Abercrombie as commander in chief after the failures of 1757.")
    question = "Who did Abercrombie replace as commander in chief?"
    assert name_the_referent(question, [named, lead], [lead]) == [named, lead]
