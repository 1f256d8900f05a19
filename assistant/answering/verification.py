"""Write stage, verification: parse ``[n]`` markers, split sentences, judge support deterministically.

The support judge is lexical-plus-semantic and needs no LLM: a claim is
supported by a span when the span contains most of the claim's content words
(stemmed), every number the claim states, and means about the same thing
(MiniLM cosine). ``eval/`` holds hand labels this judge is checked against.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from assistant.text.sentences import sentence_spans
from assistant.text.words import content_words, numbers_in

CITATION_MARK = re.compile(r"\[(\d{1,3}(?:\s*,\s*\d{1,3})*)\]")
# Weights and cut-off chosen on hand-labelled pairs in eval/judge_labels.jsonl.
WORD_WEIGHT = 0.6
COSINE_WEIGHT = 0.4
SUPPORT_THRESHOLD = 0.55
EXTRA_WORDS_LIMIT = 3


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
    """Share of the claim's content words found in the span; 0 if a number is missing.

    Words the claim merely repeats from the question are not evidence of
    support ("China enforces its export restrictions through <invention>"
    shares the question's words with every relevant span), so they are left
    out when the claim has at least two words of its own.
    """
    claim_numbers = numbers_in(strip_markers(claim))
    if claim_numbers - numbers_in(span):
        return 0.0
    words = set(content_words(strip_markers(claim)))
    own = words - set(content_words(question))
    if len(own) >= 2:
        words = own
    if not words:
        return 0.0
    return len(words & set(content_words(span))) / len(words)


# Opposite meanings that share most words ("exports jumped" / "exports fell").
# Each pair is (one side, other side) as stems; a claim using one side against
# a span using only the other is contradicted, whatever their overlap.
_OPPOSITES = [
    ({"rise", "rose", "risen", "jump", "increas", "grow", "grew", "gain", "surg", "soar", "climb", "up"},
     {"fall", "fell", "fallen", "drop", "declin", "decreas", "shrink", "shrank", "plung", "slump", "down", "cut"}),
    ({"intensifi", "tighten", "strengthen", "step", "escal", "expand"},
     {"eas", "loosen", "relax", "weaken", "lift", "scale", "end"}),
    ({"announc", "public", "publish", "open", "disclos", "reveal"},
     {"unannounc", "quiet", "secret", "covert", "confidenti", "undisclos", "obscur"}),
    ({"earli", "ahead"}, {"delay", "late", "later", "postpon"}),
    ({"lack", "without", "no"}, {"larg", "have", "with", "abund", "signific"}),
    ({"more", "higher", "larger", "bigger"}, {"less", "fewer", "lower", "smaller"}),
    ({"pass", "enact", "approv", "law"}, {"move", "moving", "propos", "consid", "draft"}),
]
_NEGATED = re.compile(r"\b(?:did|does|do|was|were|is|are|has|have|had|will|would)?\s*(?:not|never)\s+(\w+)|\b\w+n't\s+(\w+)",
                      re.IGNORECASE)


def _fold_negation(text: str) -> str:
    """'did not announce' -> 'unannounce', so it matches 'unannounced'."""
    return _NEGATED.sub(lambda m: "un" + (m.group(1) or m.group(2)), text)


def contradiction(claim: str, span: str, question: str = "") -> str | None:
    """Why ``span`` cannot support ``claim`` despite shared words, or None.

    Three cheap, deterministic checks catch what word overlap and cosine
    similarity miss: a different number, a name or month the span never
    mentions ('Apple' for 'the Department of Defense', 'July' for 'June'),
    an opposite verb ('fell' for 'jumped', 'announced' for 'unannounced'),
    and three or more words of its own that the span lacks.
    """
    from assistant.text.quantities import find_entities

    claim = strip_markers(claim)
    if numbers_in(claim) - numbers_in(span):
        return "number"
    span_words = set(content_words(span))
    question_words = set(content_words(question))
    for name, _, _ in find_entities(claim):
        words = set(content_words(name)) - question_words
        if words and not words <= span_words:
            return f"name:{name}"
    own = set(content_words(claim)) - question_words
    if len(own - span_words) >= EXTRA_WORDS_LIMIT:
        return "extra"  # the claim adds facts the span does not state ("because of low labour costs")
    claim_words = set(content_words(_fold_negation(claim)))
    span_words_folded = set(content_words(_fold_negation(span)))
    for side_a, side_b in _OPPOSITES:
        for mine, theirs in ((side_a, side_b), (side_b, side_a)):
            if claim_words & mine and span_words_folded & theirs and not span_words_folded & mine:
                return "opposite"
    return None


@dataclass
class SupportJudge:
    """Scores how well a span supports a claim, in [0, 1]."""

    embeddings: Any = None
    threshold: float = SUPPORT_THRESHOLD

    def scores(self, claim: str, spans: list[str], question: str = "") -> list[float]:
        words = [
            0.0 if contradiction(claim, s, question) else word_support(claim, s, question) for s in spans
        ]
        if self.embeddings is None or not spans:
            return words
        vecs = np.asarray(self.embeddings.embed_documents([strip_markers(claim), *spans]))
        cos = vecs[1:] @ vecs[0]
        out = []
        for w, c in zip(words, cos, strict=True):
            # A contradiction (or no shared word) vetoes support, whatever the cosine says.
            out.append(0.0 if w == 0.0 else WORD_WEIGHT * w + COSINE_WEIGHT * max(0.0, float(c)))
        return out

    def supports(self, claim: str, span: str) -> bool:
        return self.scores(claim, [span])[0] >= self.threshold
