"""A question about something it only describes is answered in two hops (spaCy's parse)."""

import pytest

from assistant.answering.bridges import bridge_name, question_hops


def test_a_person_known_by_a_link_to_a_named_thing_is_found_first():
    hops = question_hops("What government position was held by the woman who portrayed Corliss Archer "
                         "in the film Kiss and Tell?")
    assert hops.find == "the woman who portrayed Corliss Archer in the film Kiss and Tell"
    assert hops.kinds == {"PERSON"} and hops.second("Shirley Temple") == "What government position was held by Shirley Temple?"


def test_a_question_inside_a_relative_clause_is_asked_of_the_name_the_rest_finds():
    hops = question_hops("Seven Brief Lessons on Physics was written by an Italian physicist that has "
                         "worked in France since what year?")
    assert hops.find == "Seven Brief Lessons on Physics was written by an Italian physicist?"
    assert hops.second("Carlo Rovelli") == "Carlo Rovelli has worked in France since what year?"


@pytest.mark.parametrize("question", [
    "What year did the flood that impacted the Meuse take place?",  # describes what is asked about
    "What is the largest city the Rhine runs through?",  # the phrase is what is asked for
    "What was an example of a type of warship that required high speed?",
    "Kanye West, who legally changed his name to Ye, announced he is acquiring which social media platform?",
    "Who believed that the titles given to Tibetan leaders did not confer authority?",
    "How is China enforcing its rare earth export restrictions?",
])
def test_a_question_that_names_what_it_asks_about_is_one_hop(question):
    assert question_hops(question) is None


def test_the_bridge_is_the_name_the_described_noun_stands_for():
    hops = question_hops("The Vermont Catamounts men's soccer team currently competes in a conference that "
                         "was formerly known as what from 1988 to 1996?")
    lead = ["The Vermont Catamounts men's soccer team represents the University of Vermont and competes "
            "in the America East Conference."]
    assert bridge_name(hops, lead, "The Vermont Catamounts men's soccer team ...") == "America East Conference"
    person = question_hops("What government position was held by the woman who portrayed Corliss Archer "
                           "in the film Kiss and Tell?")
    film = ["Kiss and Tell is a 1945 American comedy film starring Shirley Temple as Corliss Archer."]
    assert bridge_name(person, film, "... the woman who portrayed Corliss Archer in the film Kiss and Tell?") \
        == "Shirley Temple"


FILM = "Kiss and Tell is a 1945 American comedy film starring then 17-year-old Shirley Temple as Corliss Archer.\n"
TEMPLE = ("Shirley Temple Black was an American actress, singer and dancer. As an adult, she was named "
          "United States ambassador to Ghana and also served as Chief of Protocol of the United States.\n")
OTHER = "The Lord High Treasurer was an English government position and has been a British one since 1707.\n"


def test_both_hops_are_cited_in_the_answer(make_assistant, tmp_path):
    folder = tmp_path / "wiki"
    folder.mkdir()
    for name, text in (("kiss_and_tell", FILM), ("shirley_temple", TEMPLE), ("treasurer", OTHER)):
        (folder / f"{name}.txt").write_text(text)
    assistant = make_assistant()
    assistant.ingest([folder])
    answer = assistant.ask("What government position was held by the woman who portrayed Corliss Archer "
                           "in the film Kiss and Tell?")
    assert answer.metadata["hops"]["bridge"] == "Shirley Temple"
    assert "Chief of Protocol" in answer.text
    assert {"kiss_and_tell", "shirley_temple"} <= {c.source for c in answer.citations}


def test_a_company_known_by_a_link_is_the_name_nearest_the_link_in_the_parse():
    hops = question_hops("Who owns the company that Apple made a deal with?")
    assert hops.find == "the company that Apple made a deal with" and hops.second("MP Materials") == \
        "Who owns MP Materials?"
    lead = ["The Guardian reports on Apple's $500 million deal with MP Materials to secure rare earth magnets."]
    assert bridge_name(hops, lead, "Who owns the company that Apple made a deal with?") == "MP Materials"


def test_a_bridge_written_across_a_line_break_is_still_found(make_assistant, tmp_path):
    # The parse reads sentences with their spaces collapsed; the name must still be found in the text.
    folder = tmp_path / "wiki"
    folder.mkdir()
    (folder / "kiss_and_tell.txt").write_text(FILE_WITH_BREAK)
    (folder / "shirley_temple.txt").write_text(TEMPLE)
    assistant = make_assistant()
    assistant.ingest([folder])
    answer = assistant.ask("What government position was held by the woman who portrayed Corliss Archer "
                           "in the film Kiss and Tell?")
    assert answer.citations and not answer.abstained


FILE_WITH_BREAK = "Kiss and Tell is a 1945 American comedy film starring then 17-year-old Shirley\nTemple as Corliss Archer.\n"
