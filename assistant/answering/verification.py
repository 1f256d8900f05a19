"""Write stage, verification: parse ``[n]`` markers, split sentences, judge support deterministically.

The support judge needs no LLM: a claim is supported by a span when the span
states every amount, date and named thing the claim does (spaCy entities,
compared by value), negates the same verbs, uses no WordNet antonym of the
claim's words, holds most of the claim's content lemmas and means about the
same thing (MiniLM cosine); a WordNet synonym or derivational form of a
claim's word counts as the word. ``eval/`` holds hand labels of two corpora that
this judge is checked against, split into dev (for choosing its two numbers)
and a sealed test part.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from assistant.text.antonyms import antonyms
from assistant.text.language import (
    NAME_LABELS,
    NUMERIC_LABELS,
    TIME_LABELS,
    Entity,
    Reading,
    read,
    read_many,
)
from assistant.text.places import containing_places
from assistant.text.related_words import related, same_word_forms
from assistant.text.sentences import sentence_spans
from assistant.text.words import stem

CITATION_MARK = re.compile(r"\[(\d{1,3}(?:\s*,\s*\d{1,3})*)\]")
# Weight of lemma coverage against MiniLM cosine, and the cut-off: chosen together by
# `assistant calibrate --judge` on the DEV parts of the hand labels of two corpora
# (eval/judge_labels.jsonl, eval/judge_labels_ood.jsonl), best mean Cohen's kappa.
LEMMA_WEIGHT = 0.75
SUPPORT_THRESHOLD = 0.65


def parse_markers(text: str) -> list[int]:
    """All citation numbers in order of appearance, e.g. 'a [1] b [2, 3]' -> [1, 2, 3]."""
    out: list[int] = []
    for m in CITATION_MARK.finditer(text):
        out.extend(int(n) for n in m.group(1).split(","))
    return out


def strip_markers(text: str) -> str:
    text = CITATION_MARK.sub("", text)
    text = re.sub(r"\s+([.,;:!?])", r"\1", text)
    return " ".join(text.split())


_MARKER_AFTER_STOP = re.compile(r"([.!?])\s*((?:\[\d{1,3}(?:\s*,\s*\d{1,3})*\]\s*)+)")


def split_claims(text: str) -> list[str]:
    """Sentences of an answer, each keeping its ``[n]`` markers.

    A marker written after the full stop ("... rose. [1] Next") is moved in
    front of it, so it stays with the sentence it cites.
    """
    text = _MARKER_AFTER_STOP.sub(lambda m: " " + m.group(2).strip() + m.group(1) + " ", text)
    claims: list[str] = []
    for s, e in sentence_spans(text):
        sentence = text[s:e].strip()
        if claims and CITATION_MARK.fullmatch(sentence.replace(" ", "")):
            claims[-1] += " " + sentence  # a marker that ended up after the full stop
        elif sentence:
            claims.append(sentence)
    return claims


def word_support(claim: str, span: str, question: str = "") -> float:
    """Share of the claim's content lemmas (spaCy) found in the span; 0 on a conflicting fact.

    Words the claim merely repeats from the question are not evidence of
    support ("China enforces its export restrictions through <invention>"
    shares the question's words with every relevant span), so they are left
    out when the claim has at least two words of its own.
    """
    mine, theirs = read(strip_markers(claim)), read(span)
    if _conflict(mine, theirs):
        return 0.0  # a fact the span does not state (an amount, a date, a name) is no support
    return _coverage(mine, theirs, read(question).lemmas if question else frozenset())


def _coverage(claim: Reading, span: Reading, question_lemmas: frozenset[str]) -> float:
    words = claim.lemmas
    own = words - question_lemmas
    if len(own) >= 2:
        words = own
    if not words:
        return 0.0
    # Besides the word itself: a WordNet synonym or derivational form ("production" covers
    # "produce"); a number, whose value is in the span or the conflict check would have vetoed
    # ("1.3 million" is "1,300,000"); a place the span names a part of ("China" for "Beijing",
    # as the name check lets it); and a word the claim negates, by the span's "un-" form of it
    # ("did not announce" by "unannounced").
    places, prefixed = _containing(span), _negated_by_prefix(span)
    return sum(1 for w in words
               if w in span.lemmas or w in claim.number_lemmas or related(w) & span.lemmas or w in places
               or (w in claim.negated and stem(w) in prefixed)) / len(words)


def contradiction(claim: str, span: str, question: str = "") -> str | None:
    """Why ``span`` cannot support ``claim`` whatever their overlap, or None."""
    return _conflict(read(strip_markers(claim)), read(span))


def _conflict(claim: Reading, span: Reading) -> str | None:
    """A fact the claim states that the span does not, read by spaCy and WordNet.

    Word overlap and sentence embeddings score "won in 1760" and "lost in 1759"
    as near-identical; these checks do not: every amount the claim states (by
    value: "7,742" = "7742", "three" = "3", "1.3 million" = "1,300,000"), every
    date and every named thing it mentions must be in the span, a verb negated
    on one side only is a contradiction, and so is a word whose WordNet antonym
    the span uses instead, a doer or owner swapped, an amount or date attached to
    another phrase than in the span, or a noun qualified by another word.
    """
    for entity in claim.entities:
        if entity.label in NUMERIC_LABELS:
            if entity.values and not entity.values <= span.values:
                return f"amount:{entity.text}"
        elif entity.label in TIME_LABELS:
            if (entity.values and not entity.values <= span.values) or not entity.words <= span.words:
                return f"date:{entity.text}"
        elif (entity.label in NAME_LABELS and entity.words and not entity.words & span.words
              and not _place_within(entity, span)):
            return f"name:{entity.text}"
    if claim.values - span.values:
        return "number"
    for verb in claim.negated:
        if verb in span.lemmas and verb not in span.negated:
            return "negation"
    for verb in span.negated:
        if verb in claim.lemmas and verb not in claim.negated:
            return "negation"
    prefixed = _negated_by_prefix(span)
    for word in claim.lemmas - claim.negated:
        if stem(word) in prefixed and word not in span.lemmas:
            return "negation"  # "China announced quotas" against "unannounced quotas"
    for word in claim.all_lemmas - span.all_lemmas:
        # The antonym in any form of its word: "sold quickly" against "sales were slow" ("slowly").
        opposites = antonyms(word)
        if (opposites | {form for a in opposites for form in same_word_forms(a)}) & span.all_lemmas:
            return f"antonym:{word}"
    # The parse's structure: who does it, whose it is, what a year or amount belongs to, which kind.
    for kind, check in (("roles", _swapped_doer), ("owner", _other_owner), ("paired", _paired_elsewhere),
                        ("modifier", _other_modifier)):
        found = check(claim, span)
        if found:
            return f"{kind}:{found}"
    return None


_PLACE_LABELS = frozenset({"GPE", "LOC"})
_UN_BASE = 4  # letters after "un" for it to be the prefix of a word ("unannounced"), not part of one ("unit")


def _negated_by_prefix(span: Reading) -> frozenset[str]:
    """Stems of the words the span negates with "un-" ("unannounced" -> the stem of "announced")."""
    return frozenset(stem(w[2:]) for w in span.lemmas if w.startswith("un") and len(w) - 2 >= _UN_BASE)


def _place_within(place: Entity, span: Reading) -> bool:
    """Whether the span names a place WordNet puts inside ``place`` ("Beijing" for "China"):
    news writes the capital for the government, and the claim is no more specific than its source."""
    return place.label in _PLACE_LABELS and place.text.lower().removeprefix("the ") in _containing(span)


def _containing(span: Reading) -> frozenset[str]:
    """The places the span's places are part of, by WordNet (lower case)."""
    return frozenset().union(*(containing_places(e.text) for e in span.entities if e.label in _PLACE_LABELS))


def _paired_elsewhere(claim: Reading, span: Reading) -> str | None:
    """An amount or date the claim attaches to what the span attaches another to.

    "The iPod came out in 2004, but its sales stayed slow until 2001" against
    "... released in 2001, ... sales to be relatively slow until 2004": both years
    are there, so the amount check passes; the parse shows each attached to the
    other's phrase. Only a span stating two or more amounts or dates can say this.
    """
    if len({v for values, _ in span.attachments for v in values}) < 2:
        return None
    for values, words in claim.attachments:
        same = set().union(*(w for v, w in span.attachments if v & values))
        other = set().union(*(w for v, w in span.attachments if not v & values)) - same
        if same and not words & same and words & other:
            return "/".join(f"{v:g}" for v in sorted(values))
    return None


def _other_modifier(claim: Reading, span: Reading) -> str | None:
    """A noun the claim qualifies with a word the span does not use, where the span qualifies
    the same noun with another: "a passenger train derailed" against "a cargo train ... derailed".

    Every other word is there, so overlap and similarity pass it; the parse shows the one
    slot filled differently. A modifier WordNet relates to the span's ("freight" for
    "cargo") or that the span uses anywhere is a paraphrase, not another thing.
    """
    for noun, word in claim.modifiers:
        if word in span.all_lemmas or noun not in span.lemmas:
            continue
        theirs = {w for n, w in span.modifiers if n == noun and w not in claim.all_lemmas}
        if theirs and not any(w in related(word) or word in related(w) for w in theirs):
            return f"{word} {noun}"
    return None


def _other_owner(claim: Reading, span: Reading) -> str | None:
    """A thing the claim gives to a name the span mentions, while the span gives it to another.

    "Japan's PMO convened" against "... Japan-EU talks launch and India's PMO
    convenes": every word is there, only the possessive says whose PMO it is.
    A name the span never mentions is left to the name check (a paraphrase such
    as "Beijing's" for "China's" is not vetoed here).
    """
    for noun in {n for n, _ in claim.owners} & {n for n, _ in span.owners}:
        mine = {w for n, w in claim.owners if n == noun}
        theirs = {w for n, w in span.owners if n == noun}
        only_mine = mine - theirs
        if only_mine and theirs - mine and only_mine <= span.words and not theirs & mine:
            return noun
    return None


def _swapped_doer(claim: Reading, span: Reading) -> str | None:
    """A verb whose doer the claim and the span name differently while each names the other's.

    "Loudoun refused until Abercrombie approved" against "Abercrombie refused
    until Loudoun approved" shares every word; only the parse tells who
    refused. Only a full swap counts: both names appear in both texts, so a
    claim that merely leaves out a second doer is not vetoed.
    """
    for verb in {v for v, _ in claim.doers} & {v for v, _ in span.doers}:
        mine = {w for v, w in claim.doers if v == verb}
        theirs = {w for v, w in span.doers if v == verb}
        only_mine, only_theirs = mine - theirs, theirs - mine
        if only_mine and only_theirs and only_mine <= span.words and only_theirs <= claim.words:
            return verb
    return None


@dataclass
class SupportJudge:
    """Scores how well a span supports a claim, in [0, 1]."""

    embeddings: Any = None
    threshold: float = SUPPORT_THRESHOLD

    def scores(self, claim: str, spans: list[str], question: str = "") -> list[float]:
        mine = read(strip_markers(claim))
        readings = read_many(spans)
        question_lemmas = read(question).lemmas if question else frozenset()
        words = [
            0.0 if _conflict(mine, r) else _coverage(mine, r, question_lemmas) for r in readings
        ]
        if self.embeddings is None or not spans:
            return words
        vecs = np.asarray(self.embeddings.embed_documents([strip_markers(claim), *spans]))
        cos = vecs[1:] @ vecs[0]
        out = []
        for w, c in zip(words, cos, strict=True):
            # A conflicting fact (or no shared word) vetoes support, whatever the cosine says.
            out.append(0.0 if w == 0.0 else LEMMA_WEIGHT * w + (1 - LEMMA_WEIGHT) * max(0.0, float(c)))
        return out

    def supports(self, claim: str, span: str) -> bool:
        return self.scores(claim, [span])[0] >= self.threshold
