"""Understand stage: a question about something it only describes, read as two hops.

"What government position was held by the woman who portrayed Corliss Archer
in the film Kiss and Tell?" never names the woman. Retrieved as one query, its
words find the film's paragraph, which names Shirley Temple, but not her own
paragraph, which holds the position. Asked in two hops, the first ("the woman
who portrayed Corliss Archer ...") finds the name, and the second asks the
rest about it ("What government position was held by Shirley Temple?").

The hops come from spaCy's parse: a noun phrase with a relative clause or a
participle ("the woman who portrayed ...", "the Force India driver born in
1990") that the wh-word lies outside of, or a relative clause the wh-word lies
inside of ("... written by an Italian physicist that has worked in France
since what year?": first "written by an Italian physicist", then "<name> has
worked in France since what year?"). A described noun the question asks for
itself ("What is the largest city the Rhine runs through?", where the phrase
is the subject or attribute of "is") is not a hop.

The name that bridges the hops is a name of the first hop's lead sentences
that the question does not give, chosen by what the phrase says of it: a name
holding the described noun ("the America East Conference" for "a
conference"), else a person's name for a "who" clause (none: no bridge), else
the first name.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from assistant.text.language import NAME_LABELS, WH_TAGS, parse

_DESCRIBING = ("relcl", "acl")
_BRIDGE_LABELS = NAME_LABELS - {"NORP", "LANGUAGE"}  # a nationality or a language describes, it names no one


@dataclass(frozen=True)
class Hops:
    """``find``: the query that names the bridge; ``then``: the question about it, with ``{}``
    where the bridge's name goes; ``noun``: the described noun's lemma; ``person``: the
    phrase describes someone ("who ...")."""

    find: str
    then: str
    noun: str
    person: bool

    def second(self, bridge: str) -> str:
        return _as_question(self.then.replace("{}", bridge))


def question_hops(question: str) -> Hops | None:
    """The two hops of ``question``, or None when it names what it asks about."""
    return _hops(" ".join(question.split()))


@lru_cache(maxsize=1024)
def _hops(question: str) -> Hops | None:
    doc = parse(question)
    asking = [t for t in doc if t.tag_ in WH_TAGS and not _relativizer(t)]
    if not asking:
        return None
    for noun in doc:
        clause = next((c for c in noun.children if c.dep_ in _DESCRIBING), None)
        if noun.pos_ not in ("NOUN", "PROPN") or clause is None:
            continue
        in_clause = {t.i for t in clause.subtree}
        phrase = doc[noun.left_edge.i:noun.right_edge.i + 1]
        person = any(t.lower_ in ("who", "whom") for t in clause.subtree)
        lemma = noun.lemma_.lower()
        inside = [t for t in asking if t.i in in_clause]
        if noun.pos_ != "NOUN" or not _withholds_a_name(noun, clause, person, bool(inside)):
            continue  # "Kanye West, who ...": named already
        if inside:
            # "... written by an Italian physicist that has worked in France since what year?"
            outer = " ".join(t.text for t in doc if t.i not in in_clause and not t.is_punct)
            rest = [t for t in clause.subtree if not (_relativizer(t) and t.i == clause.left_edge.i)]
            then = "{} " + " ".join(t.text for t in rest)
            return Hops(find=_as_question(outer), then=then, noun=lemma, person=person)
        if any(phrase.start <= t.i < phrase.end for t in asking):
            continue  # "Which driver born in 1990 ...": the phrase is what is asked for
        if noun.head.lemma_ == "be" and noun.dep_ in ("nsubj", "attr"):
            continue  # "What is the largest city the Rhine runs through?": asked for, not described
        then = " ".join(part for part in (doc[:phrase.start].text, "{}", doc[phrase.end:].text) if part)
        return Hops(find=phrase.text, then=then, noun=lemma, person=person)
    return None


def _withholds_a_name(noun, clause, person: bool, asks_inside: bool) -> bool:
    """Whether the phrase stands for one thing the question does not name: "an Italian
    physicist that has worked ... since what year?" (an indefinite noun whose relative clause
    holds the question), or "the woman who portrayed Corliss Archer" (someone known by a link
    to a named thing). "The flood that impacted the Meuse", "the titles given to Tibetan
    leaders" and "an example of a type of warship that required high speed" describe what the
    question is about, and stay one question."""
    opened = clause.dep_ == "relcl" and clause.left_edge.tag_ in WH_TAGS
    if asks_inside:
        return opened and any(c.dep_ == "det" and c.lower_ in ("a", "an") for c in noun.children)
    return person and opened and any(t.pos_ == "PROPN" for t in clause.subtree)


def bridge_name(hops: Hops, sentences: list[str], question: str) -> str | None:
    """The name in ``sentences`` (the first hop's lead) that the described phrase stands for."""
    given = question.lower()
    names = [e for s in sentences for e in parse(s).ents
             if e.label_ in _BRIDGE_LABELS and e.text.lower() not in given]
    if not names:
        return None
    holding = [e for e in names if hops.noun in {t.lemma_.lower() for t in e}]
    if hops.person:  # "the manager who recruited David Beckham" is nobody's academy
        holding = holding or [e for e in names if e.label_ == "PERSON"]
    chosen = holding or ([] if hops.person else names)
    return _without_article(chosen[0].text) if chosen else None


def _relativizer(token) -> bool:
    """A wh-word that opens a relative clause ("the woman who portrayed", "the arena where they
    played"), asking nothing."""
    clause = next((t for t in token.ancestors if t.dep_ in _DESCRIBING), None)
    return clause is not None and clause.left_edge.i == token.i


def _without_article(name: str) -> str:
    return name[4:] if name.lower().startswith("the ") else name


def _as_question(text: str) -> str:
    text = " ".join(text.replace(" ?", "?").split()).rstrip(" ?.") + "?"
    return text[:1].upper() + text[1:]
