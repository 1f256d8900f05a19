"""Sentence boundaries around quotations: a quoted claim keeps its speaker."""

from __future__ import annotations

import pytest

from assistant.text.sentences import sentence_spans


def _sentences(text: str) -> list[str]:
    return [text[s:e] for s, e in sentence_spans(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # A quotation of two sentences and its attribution are one claim.
        ("“We should not prolong this crisis. If it is agreed, that is fine with me,” Baker told CNN. "
         "“We need to start fresh.”",
         ["“We should not prolong this crisis. If it is agreed, that is fine with me,” Baker told CNN.",
          "“We need to start fresh.”"]),
        # A quoted question keeps the short clause that says who asked it.
        ("“Surely this is not sustainable?” Sturgeon said in a series of tweets. Next, a vote.",
         ["“Surely this is not sustainable?” Sturgeon said in a series of tweets.", "Next, a vote."]),
        # Straight quotes pair up; a closed quotation ends its sentence as before.
        ('She said "It is over. We lost." Then she left.', ['She said "It is over. We lost."', "Then she left."]),
        # Not an attribution: a long sentence after a quoted question stands alone.
        ("“Why?” The answer is simple and it is written here in this sentence. Done.",
         ["“Why?”", "The answer is simple and it is written here in this sentence.", "Done."]),
        # A quotation left open at the line's end runs into the next paragraph: split as usual.
        ("He said: “We will fight. We will win.", ["He said: “We will fight.", "We will win."]),
        # An inch mark is not a quotation, and a straight quote followed by a letter opens one.
        ('It was a 7" single. Then "Gouge Away" came out. It sold.',
         ['It was a 7" single.', 'Then "Gouge Away" came out.', "It sold."]),
    ],
)
def test_quotations_and_their_speakers(text, expected):
    assert _sentences(text) == expected


def test_a_time_of_day_does_not_end_a_sentence():
    text = "The window runs from 8:20 a.m. ET to 10:33 a.m. ET on Saturday. It may slip."
    assert _sentences(text) == ["The window runs from 8:20 a.m. ET to 10:33 a.m. ET on Saturday.", "It may slip."]


def test_a_long_speech_is_still_split():
    speech = " ".join(f"Sentence number {n} of the speech goes on for a while." for n in range(8))
    text = f"The president said: “{speech}” Then he left."
    assert len(_sentences(text)) > 4
