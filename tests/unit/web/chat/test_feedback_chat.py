"""Thumbs and the feedback form store what the user said, or show the store's reason why not."""

from __future__ import annotations

from pathlib import Path

import gradio as gr
import pytest

from assistant.web.chat.feedback import parse_facts
from assistant.web.chat.session import request_cookies
from assistant.web.chat.view import read
from tests.unit.web.chat.conftest import browser
from tests.unit.web.chat.test_conversation_chat import ask, empty_state

OWNER = "browser:" + "a" * 32


def thumb(liked: bool | str, answer: int = 0) -> gr.LikeData:
    return gr.LikeData(None, {"index": 2 * answer + 1, "value": ["…"], "liked": liked})


@pytest.fixture
def answered(handlers) -> dict:
    state = empty_state()
    ask(handlers, "Where are rare earths refined?", state, browser("a"))
    return state


@pytest.mark.parametrize(
    ("typed", "facts"),
    [
        ("licences, seven rare earths", ["licences", "seven rare earths"]),
        ("1,200 tonnes\nChina, 2024", ["1,200 tonnes", "China", "2024"]),
        (" , \n", None),
        (None, None),
    ],
)
def test_facts_split_on_commas_and_lines_but_not_inside_numbers(typed, facts) -> None:
    assert parse_facts(typed) == facts


def test_thumbs_down_then_a_correction_is_stored(handlers, assistant, answered) -> None:
    opened = read(handlers.feedback.rate(answered["turns"], answered["open_id"], thumb(False), browser("a")))
    assert opened["form"]["visible"] is True and opened["target"] == {"pos": 0, "rating": "down"}
    assert opened["correction"]["visible"] is True and "not helpful" in opened["form_head"]
    assert opened["chatbot"]["feedback_value"] == ["Dislike"]
    turn_id = answered["turns"][0]["id"]
    assert assistant.conversations.get_turn(turn_id, OWNER).feedback.rating == "down"

    sent = read(handlers.feedback.send(opened["target"], opened["turns"], answered["open_id"], "Too vague.",
                                       "China refines about 90% of rare earths.", "90%, China", browser("a")))
    assert sent["form"]["visible"] is False and "correction is saved" in sent["feedback_status"]
    stored = assistant.conversations.get_turn(turn_id, OWNER).feedback
    assert (stored.rating, stored.comment, stored.correction, stored.facts) == (
        "down", "Too vague.", "China refines about 90% of rare earths.", ["90%", "China"])
    assert "correction: China refines" in Path(sent["export_md"]).read_text(encoding="utf-8")

    # Clicking the same thumb again opens the form with what was said, without storing a new rating.
    again = read(handlers.feedback.rate(sent["turns"], answered["open_id"], thumb(False), browser("a")))
    assert again["correction"]["value"] == "China refines about 90% of rare earths."
    assert again["facts"]["value"] == "90%\nChina"


def test_bad_input_shows_the_stores_message_and_keeps_the_form(handlers, answered) -> None:
    opened = read(handlers.feedback.rate(answered["turns"], answered["open_id"], thumb(False), browser("a")))
    many = "\n".join(f"fact {i}" for i in range(21))
    refused = read(handlers.feedback.send(opened["target"], opened["turns"], answered["open_id"], "", "Right.",
                                          many, browser("a")))
    assert "facts has 21 items" in refused["feedback_status"] and "err" in refused["feedback_status"]
    assert "form" not in refused  # still open, with what was typed


def test_a_thumbs_up_takes_a_comment_only(handlers, assistant, answered) -> None:
    opened = read(handlers.feedback.rate(answered["turns"], answered["open_id"], thumb(True), browser("a")))
    assert opened["correction"]["visible"] is False and opened["chatbot"]["feedback_value"] == ["Like"]
    sent = read(handlers.feedback.send(opened["target"], opened["turns"], answered["open_id"], "Clear.",
                                       "ignored: hidden for a thumbs-up", "", browser("a")))
    stored = assistant.conversations.get_turn(answered["turns"][0]["id"], OWNER).feedback
    assert (stored.rating, stored.comment, stored.correction) == ("up", "Clear.", None)
    assert "feedback is saved" in sent["feedback_status"]


def test_answers_that_are_not_someone_elses_or_unsaved_cannot_be_rated(handlers, answered) -> None:
    stranger = read(handlers.feedback.rate(answered["turns"], answered["open_id"], thumb(False), browser("b")))
    assert "No turn" in stranger["feedback_status"] and "form" not in stranger
    unsaved = [{**answered["turns"][0], "id": None}]
    refused = read(handlers.feedback.rate(unsaved, None, thumb(True), browser("a")))
    assert "not saved" in refused["feedback_status"] and refused["chatbot"]["feedback_value"] == [None]
    unselected = read(handlers.feedback.rate(answered["turns"], answered["open_id"], thumb(""), browser("a")))
    assert "stays" in unselected["feedback_status"]


def test_cookies_come_from_the_request_or_its_cookie_header() -> None:
    assert request_cookies(gr.Request(cookies={"a": "1"})) == {"a": "1"}
    assert request_cookies(gr.Request(headers={"cookie": "assistant_browser=abc; x=y"})) == {
        "assistant_browser": "abc", "x": "y"}
    assert request_cookies(None) == {}
