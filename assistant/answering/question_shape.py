"""Understand stage: what shape of answer a question asks for, read from its parse.

Two things follow from the shape. A question asking for one thing of a known
kind ("When ...", "How many ...", "Which country ...") is answered by one
sentence, and the sentence that states a thing of that kind goes first; a
question asking for several things ("How is X enforcing Y?", "What steps ...",
"Why ...") gathers facts from several sentences. The shape comes from spaCy's
parse of the question (the wh-word, the noun it determines, that noun's
number), so it holds for questions worded in ways nobody listed; the only
lists are the closed English classes of wh-words and of nouns naming a time
or an amount.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from assistant.text.language import WH_TAGS, Reading, parse

PEOPLE = frozenset({"PERSON", "ORG"})
TIMES = frozenset({"DATE", "TIME"})
AMOUNTS = frozenset({"CARDINAL", "QUANTITY", "MONEY", "PERCENT"})
PLACES = frozenset({"GPE", "LOC", "FAC"})
# Nouns that ask for a time or an amount when a wh-word determines them ("what year", "which percentage").
TIME_NOUNS = frozenset({"year", "century", "decade", "date", "day", "month", "time", "period", "era", "age",
                        "season", "week", "hour"})
AMOUNT_NOUNS = frozenset({"number", "amount", "percentage", "percent", "share", "rate", "population", "size",
                          "total", "cost", "price", "value", "figure", "count", "sum", "volume", "length",
                          "height", "weight", "distance", "speed", "temperature"})
PLACE_NOUNS = frozenset({"country", "city", "state", "region", "continent", "place", "town", "province",
                         "island", "nation", "location", "area", "county", "village", "river", "sea"})
PERSON_NOUNS = frozenset({"person", "man", "woman", "leader", "king", "queen", "president", "author",
                          "company", "organization", "organisation", "group", "team", "player"})
# "How" asks for an amount or a time when it modifies one of these; otherwise it asks for a manner (broad).
HOW_AMOUNT = frozenset({"many", "much", "large", "big", "high", "far", "tall", "heavy", "wide", "deep"})
HOW_TIME = frozenset({"long", "old", "often", "soon"})


@dataclass(frozen=True)
class QuestionShape:
    """``broad``: gathers several facts; ``expected``: spaCy labels of the thing asked for (may be empty)."""

    broad: bool
    expected: frozenset[str] = frozenset()


def question_shape(question: str) -> QuestionShape:
    """The shape of ``question`` (cached; one spaCy parse)."""
    return _shape(" ".join(question.split()))


@lru_cache(maxsize=2048)
def _shape(question: str) -> QuestionShape:
    doc = parse(question)
    wh = next((t for t in doc if t.tag_ in WH_TAGS), None)
    if wh is None:
        # "Describe ...", "Tell me about ...": no single thing asked for.
        return QuestionShape(broad=True)
    word = wh.lower_
    if word == "why":
        return QuestionShape(broad=True)
    if word == "how":
        modified = wh.head.lower_ if wh.head.i != wh.i else ""  # by position: tokens are new objects per access
        if modified in HOW_AMOUNT:
            return QuestionShape(False, AMOUNTS)
        if modified in HOW_TIME:
            return QuestionShape(False, TIMES | AMOUNTS)
        return QuestionShape(broad=True)  # "How is China enforcing ...": a manner, several facts
    if word == "when":
        return QuestionShape(False, TIMES)
    if word == "where":
        return QuestionShape(False, PLACES | {"ORG"})
    if word in ("who", "whom", "whose"):
        return QuestionShape(False, PEOPLE)
    if word == "what" and _doing(doc):
        # "What are other countries doing to ...?": the ongoing actions of someone, several facts.
        # (The plain "... do what during elections?" of the suites asks for one.)
        return QuestionShape(broad=True)
    # "what"/"which": the noun it determines says what is asked for, and its number how many.
    noun = determined_noun(wh)
    if noun is None:
        # "What has the US done to ...?": its actions, several facts. "What is the Yuan's official
        # name?" asks for one.
        return QuestionShape(broad=asks_for_actions(wh))
    lemma = noun.lemma_.lower()
    plural = noun.tag_ in ("NNS", "NNPS")
    if lemma in TIME_NOUNS:
        return QuestionShape(plural, TIMES)
    if lemma in AMOUNT_NOUNS:
        return QuestionShape(plural, AMOUNTS)
    if lemma in PLACE_NOUNS:
        return QuestionShape(plural, PLACES)
    if lemma in PERSON_NOUNS:
        return QuestionShape(plural, PEOPLE)
    return QuestionShape(broad=plural)  # "What steps ...", "What measures ...": a list


def asks_what_was_done(question: str) -> bool:
    """Whether the question's "what" asks for someone's actions: "What did the Fed do with interest
    rates in July?", "What are other countries doing ...?" (not a figure, whatever noun follows)."""
    doc = parse(question)
    wh = next((t for t in doc if t.tag_ in WH_TAGS), None)
    if wh is None or wh.lower_ != "what":
        return False
    return asks_for_actions(wh) or _doing(doc)


def _doing(doc) -> bool:
    """Whether the question's verb is "doing" (by the verb: the parser attaches "what" anywhere)."""
    return any(t.lemma_ == "do" and t.tag_ == "VBG" for t in doc)


def asks_for_actions(wh) -> bool:
    """Whether a bare "what" is the fronted object of "do": "What has the US done to ...?" asks
    for someone's actions, as "What are they doing ...?" does; "... do what during elections?"
    asks for one act. (A "what" that is the subject, "What triggered the protests?", also reads
    as a story on news, but on SQuAD's one-fact "What changed the Rhine's Delta?" it made
    answers five times longer for no fact: not kept.)"""
    head = wh.head  # a "dobj" is never the root, so this is another token
    return wh.dep_ == "dobj" and head.pos_ == "VERB" and head.lemma_ == "do" and wh.i < head.i


def determined_noun(wh):
    """The noun a "what"/"which" determines: its head when parsed as its determiner; else, for a
    determiner-tagged wh-word the parser attached elsewhere ("In which US state is ...", where
    "which" came out as the preposition's object; "Which wildly popular show was ...", where it came out
    as the subject), the last noun of the words right after it."""
    if wh.dep_ == "det":
        return wh.head
    if wh.tag_ != "WDT":
        return None
    phrase = []
    for token in wh.doc[wh.i + 1:]:
        if token.pos_ not in ("ADV", "ADJ", "NOUN", "PROPN", "NUM"):
            break
        phrase.append(token)
    return phrase[-1] if phrase and phrase[-1].pos_ in ("NOUN", "PROPN") else None


def names_kind_asked(sentence: Reading, expected: frozenset[str], asked: Reading) -> bool:
    """Whether ``sentence`` names a thing of an ``expected`` kind that the question itself does not.

    A time asked for is also met by a year spaCy read outside any entity.
    """
    if any(e.label in expected and not e.words <= asked.words for e in sentence.entities):
        return True
    return bool(expected & TIMES) and bool(sentence.year_numbers - asked.year_numbers - asked.years())
