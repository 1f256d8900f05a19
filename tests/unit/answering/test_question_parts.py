"""A question asking two things is read as its parts (spaCy's parse), and answered part by part."""

import pytest

from assistant.answering.question_parts import (
    parts_with_earlier_names,
    question_alternatives,
    question_parts,
)
from tests.conftest import EXPLAINER, STORY


@pytest.mark.parametrize(("question", "parts"), [
    ("Which airline announced a deal to buy Spirit Airlines and what did KFC roll out?",
     ["Which airline announced a deal to buy Spirit Airlines?", "What did KFC roll out?"]),
    ("Who won the 2022 Nobel Prize in Literature, and who won the Physics prize?",
     ["Who won the 2022 Nobel Prize in Literature?", "Who won the Physics prize?"]),
    ("When and where did the Sakurajima volcano erupt?",
     ["When did the Sakurajima volcano erupt?", "Where did the Sakurajima volcano erupt?"]),
])
def test_two_questions_joined_by_and_are_two_parts(question, parts):
    assert question_parts(question) == parts


def test_a_part_that_refers_back_carries_what_the_first_part_names():
    first, second = question_parts("When did Liz Truss become prime minister and when did she resign?")
    assert first == "When did Liz Truss become prime minister?"
    assert second.startswith("Liz Truss") and second.endswith("when did she resign?")


def test_a_part_that_names_nothing_can_be_read_with_what_the_first_part_names():
    question = "Why does China restrict rare earth exports and who is affected?"
    assert question_parts(question) == ["Why does China restrict rare earth exports?", "Who is affected?"]
    first, second = parts_with_earlier_names(question)
    assert first == "Why does China restrict rare earth exports?"
    assert "rare earth exports" in second and second.endswith("who is affected?")
    # A part that names a thing of its own stays as it is (see question_parts for why).
    assert parts_with_earlier_names("Who founded Apple and when was the company founded?")[1] == \
        "When was the company founded?"


def test_the_words_framing_the_first_question_frame_every_part():
    first, second = question_parts("I want to know what rare earths are and why China controls them.")
    assert first == "I want to know what rare earths are."
    assert second.endswith("I want to know why China controls them.") and "rare earths" in second


@pytest.mark.parametrize("question", [
    "The Rhine and what other river were accepted as the Germanic frontier?",  # no question before "and"
    "The Rhine first formed a boundary between Gaul and what else?",  # nor here: no wh-word before it
    "Between Brakel and what other city can the most landward tidal influence be detected?",
    "How is China enforcing its rare earth export restrictions?",
    "What were the sales and profits of the company?",  # "and" joins nouns, not questions
])
def test_a_question_asking_one_thing_is_one_part(question):
    assert question_parts(question) == [question]


@pytest.fixture
def ready(make_assistant, seeds_copy):
    assistant = make_assistant()
    assistant.ingest([seeds_copy])
    return assistant


def test_each_part_is_answered_from_its_own_evidence(ready):
    answer = ready.ask("How much did exports of rare earths jump in June, in tonnes, "
                       "and what smuggling tactics did the Ministry of State Security disclose?")
    assert not answer.abstained
    assert "7,742" in answer.text and "solder paste" in answer.text
    assert {STORY, EXPLAINER} <= {c.source for c in answer.citations}
    assert [p["abstained"] for p in answer.metadata["parts"]] == [False, False]


def test_a_part_the_documents_do_not_answer_is_named_not_abstained_on(ready):
    answer = ready.ask("How much did exports of rare earths jump in June, in tonnes, "
                       "and who won the football world cup in 1998?")
    assert not answer.abstained and "7,742" in answer.text
    assert "do not answer this part of the question: Who won the football world cup in 1998?" in answer.text
    assert [p["abstained"] for p in answer.metadata["parts"]] == [False, True]


def test_when_no_part_is_answered_the_answer_abstains(ready):
    answer = ready.ask("Who won the football world cup in 1998 and who won the Tour de France in 1999?")
    assert answer.abstained and answer.citations == []


def test_a_part_naming_nothing_unanswered_alone_is_answered_about_the_first_parts_names(ready):
    answer = ready.ask("Why does China restrict rare earth exports and who is affected?")
    assert "do not answer this part" not in answer.text
    assert [p["abstained"] for p in answer.metadata["parts"]] == [False, False]
    assert "rare earth exports" in answer.metadata["parts"][1]["question"]


@pytest.mark.parametrize(("question", "parts"), [
    ("Who is older, Annie Morton or Terry Richardson?",
     ["Who is older, Annie Morton?", "Who is older, Terry Richardson?"]),
    ("Which is longer, the Rhine or the Danube?", ["Which is longer, the Rhine?", "Which is longer, the Danube?"]),
    ("Which city is larger, Paris, Lyon or Marseille?",
     ["Which city is larger, Paris?", "Which city is larger, Lyon?", "Which city is larger, Marseille?"]),
    ("Which company is headquartered in Las Vegas, Apple or MP Materials?",  # a place, then the choice
     ["Which company is headquartered in Las Vegas, Apple?", "Which company is headquartered in Las Vegas, MP Materials?"]),
])
def test_a_question_choosing_between_names_is_one_part_per_name(question, parts):
    assert question_alternatives(question) == parts


@pytest.mark.parametrize("question", [
    "Did exports rise or fall in June?",  # a choice between verbs
    "Which band, Letters to Cleo or Screaming Trees, had more members?",  # "Cleo" alone would cut a name
])
def test_a_choice_that_is_not_between_whole_names_is_one_question(question):
    assert question_alternatives(question) == [question]


def test_each_name_of_a_choice_is_answered_from_its_own_passage(make_assistant, tmp_path):
    folder = tmp_path / "people"
    folder.mkdir()
    (folder / "annie_morton.txt").write_text("Annie Morton (born October 8, 1970) is an American model born in "
                                             "Pennsylvania.\n")
    (folder / "terry_richardson.txt").write_text("Terrence Richardson (born August 14, 1965) is an American fashion "
                                                 "and portrait photographer known as Terry Richardson.\n")
    assistant = make_assistant()
    assistant.ingest([folder])
    answer = assistant.ask("Who is older, Annie Morton or Terry Richardson?")
    assert not answer.abstained and "1970" in answer.text and "1965" in answer.text
    assert {c.source for c in answer.citations} == {"annie_morton", "terry_richardson"}
    assert [p["question"] for p in answer.metadata["parts"]] == ["Who is older, Annie Morton?",
                                                                  "Who is older, Terry Richardson?"]
