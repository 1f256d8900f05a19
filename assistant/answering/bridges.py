"""Understand stage: a question about something it only describes, read as two hops.

"What government position was held by the woman who portrayed Corliss Archer
in the film Kiss and Tell?" never names the woman. Retrieved as one query, its
words find the film's paragraph, which names Shirley Temple, but not her own
paragraph, which holds the position. Asked in two hops, the first ("the woman
who portrayed Corliss Archer ...") finds the name, and the second asks the
rest about it ("What government position was held by Shirley Temple?").

The hops come from spaCy's parse, in two shapes:

- a relative clause that holds the question, on an indefinite noun ("... written
  by an Italian physicist that has worked in France since what year?"): first
  "... written by an Italian physicist?", then "<name> has worked in France
  since what year?";
- a relative clause that links the noun to a named thing, outside the asked
  part ("held by the woman who portrayed Corliss Archer ...", "Who owns the
  company that Apple made a deal with?"), when the clause or the noun says what
  kind of name to look for (a "who" clause: a person; "company": a person or an
  organisation; "city": a place).

A described noun the question asks for itself ("What is the largest city the
Rhine runs through?", "What is the name of the area that ...?") is not a hop,
nor a description with no kind to check a name against ("the flood that
impacted the Meuse"). On the six suites' dev questions, written by others for
one paragraph, neither shape occurs; they are HotpotQA's (``eval/hotpot``).

The name that bridges the hops comes from the first hop's lead sentences that
hold the link, and is not one the question gives: a name holding the described
noun first ("the America East Conference" for "a conference"), then a name of
the kind asked for, nearest the clause's words in the parse. No such name: one
query answers, as does a second hop the documents do not answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from assistant.answering.question_shape import PEOPLE, PERSON_NOUNS, PLACE_NOUNS, PLACES
from assistant.text.language import NAME_LABELS, WH_TAGS, parse

_DESCRIBING = ("relcl", "acl")
_BRIDGE_LABELS = NAME_LABELS - {"NORP", "LANGUAGE"}  # a nationality or a language describes, it names no one


@dataclass(frozen=True)
class Hops:
    """``find``: the query that names the bridge; ``then``: the question about it, with ``{}``
    where the bridge's name goes; ``noun``: the described noun's lemma; ``kinds``: the spaCy
    labels the bridge may have (empty: any name); ``link``: the names the describing clause
    gives ("Corliss", "Archer", ...), one of which the sentence naming the bridge must hold."""

    find: str
    then: str
    noun: str
    kinds: frozenset[str] = frozenset()
    link: frozenset[str] = frozenset()
    words: frozenset[str] = frozenset()  # content lemmas of the describing clause

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
        if noun.pos_ != "NOUN" or clause is None:
            continue  # "Kanye West, who ...": named already
        in_clause = {t.i for t in clause.subtree}
        phrase = doc[noun.left_edge.i:noun.right_edge.i + 1]
        kinds = _kinds(noun, clause)
        link = frozenset(t.lower_ for t in clause.subtree if t.pos_ == "PROPN")
        if any(t.i in in_clause for t in asking):
            # "... written by an Italian physicist that has worked in France since what year?"
            if not (_opened(clause) and _indefinite(noun)):
                continue  # "an example of a type of warship that required high speed"
            outer = " ".join(t.text for t in doc if t.i not in in_clause and not t.is_punct)
            rest = [t for t in clause.subtree if not (_relativizer(t) and t.i == clause.left_edge.i)]
            return Hops(_as_question(outer), "{} " + " ".join(t.text for t in rest), noun.lemma_.lower(), kinds)
        # "the woman who portrayed Corliss Archer", "the company that Apple made a deal with":
        # known by a link to a named thing, and of a kind a name can be checked against.
        if clause.dep_ != "relcl" or not link or not kinds:
            continue  # "the flood that impacted the Meuse": no kind to look for; "the titles given to ..."
        if any(phrase.start <= t.i < phrase.end for t in asking):
            continue  # "Which company that ...": the phrase is what is asked for
        if _asked_for(noun, asking):
            continue  # "What is the largest city the Rhine runs through?": asked for, not described
        then = " ".join(part for part in (doc[:phrase.start].text, "{}", doc[phrase.end:].text) if part)
        words = frozenset(t.lemma_.lower() for t in clause.subtree if t.is_alpha and not t.is_stop)
        return Hops(phrase.text, then, noun.lemma_.lower(), kinds, link, words)
    return None


def _kinds(noun, clause) -> frozenset[str]:
    """The labels of a name the phrase can stand for: a person for a "who" clause, else what
    the noun names (``question_shape``'s kinds: "company" a person or an organisation, "city" a
    place), else none known."""
    if any(t.lower_ in ("who", "whom") for t in clause.subtree):
        return frozenset({"PERSON"})
    lemma = noun.lemma_.lower()
    if lemma in PERSON_NOUNS:
        return PEOPLE
    if lemma in PLACE_NOUNS:
        return PLACES
    return frozenset()


def _asked_for(noun, asking) -> bool:
    """Whether the question asks what ``noun`` (or the noun it belongs to by "of") is: "What is
    the largest city ...?", "What is the name of the area ...?". "Where is the company ...?" asks
    something of it."""
    head = noun
    while head.dep_ == "pobj" and head.head.dep_ == "prep" and head.head.head.pos_ == "NOUN":
        head = head.head.head
    be = head.head
    return (head.dep_ in ("nsubj", "attr") and be.lemma_ == "be"
            and any(w.head.i == be.i and w.dep_ in ("nsubj", "attr") for w in asking))


def _opened(clause) -> bool:
    return clause.dep_ == "relcl" and clause.left_edge.tag_ in WH_TAGS


def _indefinite(noun) -> bool:
    return any(c.dep_ == "det" and c.lower_ in ("a", "an") for c in noun.children)


def bridge_name(hops: Hops, sentences: list[str], question: str) -> str | None:
    """The name in ``sentences`` (the first hop's lead) that the described phrase stands for.

    Only sentences holding a name the describing clause gives count (the link). Of their names
    the question does not give, one holding the described noun comes first ("the America East
    Conference" for "a conference"), then names of the kind the noun names, nearest in the parse
    to the clause's words ("Apple's deal with MP Materials" for "the company that Apple made a
    deal with", not "The Guardian reports on ...").
    """
    # A name holding one of the question's names is one it gives ("Apple Inc." for "Apple").
    asked = parse(question)
    given = {n.text.lower() for n in [*asked.ents, *_unlabelled_names(asked)]}
    ranked: list[tuple[bool, int, int, str]] = []
    for sentence in sentences:
        doc = parse(sentence)
        if hops.link and not hops.link & {t.lower_ for t in doc}:
            continue
        anchors = [t for t in doc if t.lemma_.lower() in hops.words]
        for entity in [*doc.ents, *_unlabelled_names(doc)]:
            label = entity.label_ or "ORG"  # a run of proper nouns the model gave no label
            text = entity.text.lower()
            if (label not in _BRIDGE_LABELS or any(name in text for name in given) or text in question.lower()
                    or (hops.kinds and label not in hops.kinds)):
                continue
            holds = hops.noun in {t.lemma_.lower() for t in entity}
            near = min((_tree_distance(entity.root, a) for a in anchors), default=len(doc))
            ranked.append((not holds, near, len(ranked), entity.text))
    return _without_article(min(ranked)[3]) if ranked else None


def _unlabelled_names(doc) -> list:
    """Runs of proper nouns outside every entity: the small model reads "The Guardian reports on
    Apple's deal with MP Materials" without "MP Materials"."""
    named = {t.i for e in doc.ents for t in e}
    runs, start = [], None
    for token in [*doc, None]:
        inside = token is not None and token.pos_ == "PROPN" and token.i not in named
        if inside and start is None:
            start = token.i
        elif not inside and start is not None:
            runs.append(doc[start:token.i if token is not None else len(doc)])
            start = None
    return runs


def _tree_distance(a, b) -> int:
    """Edges between two tokens of one parse."""
    up_a = [a, *a.ancestors]
    up_b = {t.i: n for n, t in enumerate([b, *b.ancestors])}
    return next((n + up_b[t.i] for n, t in enumerate(up_a) if t.i in up_b), len(up_a) + len(up_b))


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
