"""Write stage: turn evidence or a model's raw text into verified draft claims.

A claim is one answer sentence with the evidence spans it cites. The small
model's sentences are aligned to the span that supports them (re-attributed
when it cited the wrong one or none), repeats are dropped, sentences nothing
supports are dropped, and evidence it left out is quoted after its sentences.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from assistant.answering.evidence import Span
from assistant.answering.verification import (
    SupportJudge,
    parse_markers,
    split_claims,
    strip_markers,
)
from assistant.text.language import NAME_LABELS, NUMERIC_LABELS, TIME_LABELS, parse, read
from assistant.text.related_words import related
from assistant.text.words import content_words


@dataclass
class DraftClaim:
    """An answer sentence in flight: it cites evidence indexes, not yet citation numbers.

    The finish stage numbers the cited spans in order of first use and turns
    each draft into the public ``Claim``.
    """

    text: str
    span_ids: list[int]  # indexes into the question's evidence list
    supported: bool = True
    score: float = 1.0
    kind: str = "fact"  # "fact", or "conflict" for a note that two cited sources disagree


# Refusals and talk about the sources themselves ("The citations highlight ...",
# "This quote is used to describe ...": the prompts call a span a source or a quote)
# are not claims about the world; the model writes them when it has nothing to say.
_NON_ANSWER = re.compile(
    r"(do(es)? not (say|mention|provide|cover)|don't know|no information|not (mentioned|provided)|cannot answer"
    r"|\b(the |these )?(citations?|sources?|quotes?) (above |provided )?(highlight|show|say|mention|provide|indicate|suggest)s?\b"
    r"|\b(the|this|that|these) (quote|quotation|excerpt)s?\b)",
    re.IGNORECASE,
)
_GARBLED_MARKER = re.compile(r"\[?\(?\b(?:source|sources|src)\s*\d+\)?\]?:?", re.IGNORECASE)
# A lead-in about the sources before the claim itself ("The sources [1] China's
# exports ...", "According to the documents, China ..."): the claim is what follows.
_SOURCE_LEAD_IN = re.compile(
    r"^(?i:(?:according to |per )?(?:the |these )?(?:sources?|documents?|context|quotes?)"
    r"(?:\s+(?:say|says|show|shows|state|states|indicate|indicates))?(?:\s+that)?)\s*[:,\-–—]?\s+"
    r"(?=[A-Z0-9“\"])"  # case-sensitive: the claim starts here ("Sources disagree ..." is left alone)
)


def extractive_claims(evidence: list[Span]) -> list[DraftClaim]:
    """Each evidence sentence quoted verbatim with its own citation."""
    return [DraftClaim(span.text.strip(), [i]) for i, span in enumerate(evidence)]


def is_repeat(words: set[str], kept: list[set[str]], limit: float = 0.8) -> bool:
    """Whether ``limit`` or more of ``words`` are in one of the ``kept`` sentences' words."""
    return any(words and len(words & other) / len(words) >= limit for other in kept)


class ClaimChecker:
    """Verifies a model's sentences one at a time, so each can be shown as soon as it passes.

    ``check`` judges one sentence (skipping non-answers and repeats,
    re-attributing a wrong marker, dropping what nothing supports);
    ``completion`` then quotes the evidence the kept sentences left out.
    Feeding it every sentence of a text gives what ``build_answer_claims``
    returns for that text.
    """

    def __init__(self, evidence: list[Span], judge: SupportJudge, n_prompt_spans: int, question: str = "") -> None:
        self.evidence = evidence
        self.judge = judge
        self.n_prompt_spans = n_prompt_spans
        self.question = question
        self.question_words = set(content_words(question))
        self.kept: list[DraftClaim] = []
        self.kept_words: list[set[str]] = []
        self.stats = {"llm_claims": 0, "llm_claims_kept": 0, "reattributed": 0, "dropped_unsupported": 0,
                      "dropped_repeats": 0, "invalid_markers": 0, "completed_from_evidence": 0}

    def check(self, sentence: str) -> DraftClaim | None:
        """The model's ``sentence`` (with its markers) as a verified claim, or None when it is not kept."""
        cleaned = _claim_text(sentence)
        words = set(content_words(cleaned))
        if len(words) < 3 or _NON_ANSWER.search(cleaned):
            return None
        if len(words - self.question_words) < 2:
            return None  # only restates the question ("The 2025 quota figures are:")
        self.stats["llm_claims"] += 1
        if is_repeat(words, self.kept_words):
            self.stats["dropped_repeats"] += 1
            return None
        claim = _attribute(cleaned, parse_markers(sentence), self.evidence, self.judge, self.n_prompt_spans,
                           self.question, self.stats)
        if claim is not None:
            self.kept.append(claim)
            self.kept_words.append(words)
            self.stats["llm_claims_kept"] = len(self.kept)
        return claim

    def completion(self) -> list[DraftClaim]:
        """The evidence the kept sentences neither cited nor repeated, quoted (see ``_complete_from_evidence``)."""
        before = len(self.kept)
        _complete_from_evidence(self.kept, self.kept_words, self.evidence, self.stats)
        return self.kept[before:]

    def metadata(self) -> dict:
        """What the repair did; a ``fallback`` note when no sentence of the model's was kept."""
        metadata: dict = {"repair": self.stats}
        if not self.stats["llm_claims_kept"]:
            metadata["fallback"] = "extractive: no sentence of the model's answer was supported by the sources"
        return metadata


def build_answer_claims(
    raw: str, evidence: list[Span], judge: SupportJudge, n_prompt_spans: int, question: str = ""
) -> tuple[list[DraftClaim], dict]:
    """Verify, repair and complete a model's answer against the evidence.

    Args:
        raw: the model's finished sentences, with its ``[n]`` markers.
        evidence: the spans; the first ``n_prompt_spans`` were numbered in the prompt.
        judge: scores how well a span supports a sentence.
        n_prompt_spans: how many sources the model saw (markers beyond are invalid).
        question: what the user asked (its words are no evidence of support).

    Returns:
        (claims, metadata) where metadata counts what the repair did.
    """
    checker = ClaimChecker(evidence, judge, n_prompt_spans, question)
    claims = [c for c in map(checker.check, split_claims(raw)) if c is not None]
    claims += checker.completion()
    return claims, checker.metadata()


def direct_claim(sentence: str, evidence: list[Span], judge: SupportJudge, question: str) -> DraftClaim | None:
    """The model's one-sentence answer from the best span, kept only when the judge finds it in that span.

    The model was shown ``evidence[0]`` alone, so that span is the only one
    it may cite; a sentence it does not support (or a refusal, or one that
    only restates the question) is not kept, and the answer is extractive.
    Nor is one that leaves out a named thing, amount or date the span states
    and the question does not: the sentence goes first, in the place of the
    span's own sentence, so it must not drop what may be the answer (on dev,
    "Who killed Harold II?" got "... fought between Harold II and William the
    Conqueror", without the span's "William II").
    """
    if not evidence:
        return None
    checker = ClaimChecker(evidence[:1], judge, 1, question)
    claim = checker.check(sentence)
    if claim is None or claim.span_ids != [0] or missing_facts(claim.text, evidence[0].text, question):
        return None
    return claim


def missing_facts(claim: str, span: str, question: str = "") -> list[str]:
    """The span's main participants (``main_participants``), named things, amounts and dates (spaCy
    entities) that neither the claim nor the question states.

    Amounts and dates are compared by value ("7,742" = "7742"), names by their words.
    """
    mine, asked = read(strip_markers(claim)), read(question)
    said = mine.lemmas | asked.lemmas
    # A participant is kept in any form WordNet relates to it ("disclosure" by "disclose").
    missing = [noun for noun in main_participants(span) if noun not in said and not related(noun) & said]
    for entity in read(span).entities:
        if entity.label not in NAME_LABELS | NUMERIC_LABELS | TIME_LABELS:
            continue
        if entity.values:
            if not entity.values <= mine.values | asked.values:
                missing.append(entity.text)
        elif entity.words and not entity.words <= mine.words | asked.words:
            missing.append(entity.text)
    return missing


# The dependents that name who or what the main verb's clause is about (its objects are often
# the part a one-sentence answer rightly leaves out: "... disclosure of tactics signals a shift").
_PARTICIPANTS = ("nsubj", "nsubjpass")


def main_participants(span: str) -> list[str]:
    """Lemmas of the nouns that are the subject of the span's main verb.

    "For example, friction is caused by the gradients ..." is about friction;
    a one-sentence rewrite that drops it ("Electrostatic gradients create
    electrostatic forces ...") may be supported and still lose the answer.
    """
    doc = parse(span)
    roots = [t for t in doc if t.dep_ == "ROOT"]
    return [child.lemma_.lower() for root in roots for child in root.children
            if child.dep_ in _PARTICIPANTS and child.pos_ in ("NOUN", "PROPN")]


def _claim_text(sentence: str) -> str:
    """The model's sentence without markers, garbled markers ("[Source 2]") and a lead-in about the sources."""
    cleaned = " ".join(_GARBLED_MARKER.sub("", strip_markers(sentence)).split()).strip(" -:")
    return _SOURCE_LEAD_IN.sub("", cleaned)


def _attribute(claim: str, markers: list[int], evidence: list[Span], judge: SupportJudge, n_prompt_spans: int,
               question: str, stats: dict[str, int]) -> DraftClaim | None:
    """The claim citing the spans that support it: the model's own markers when they do,
    else the best-supporting span (re-attributed); None when no span supports it."""
    texts = [s.text for s in evidence]
    cited = [m - 1 for m in markers if 1 <= m <= n_prompt_spans]
    stats["invalid_markers"] += sum(1 for m in markers if not 1 <= m <= n_prompt_spans)
    scores = judge.scores(claim, texts, question=question)
    supporting = [i for i in cited if scores[i] >= judge.threshold]
    if not supporting:
        best = max(range(len(texts)), key=lambda i: scores[i])
        if scores[best] < judge.threshold:
            stats["dropped_unsupported"] += 1
            return None
        supporting = [best]
        stats["reattributed"] += 1
    return DraftClaim(claim, supporting, score=max(scores[i] for i in supporting))


def _complete_from_evidence(kept: list[DraftClaim], kept_words: list[set[str]], evidence: list[Span],
                            stats: dict[str, int]) -> None:
    """Quote, after the model's sentences, each evidence span it neither cited nor repeated."""
    covered = {i for claim in kept for i in claim.span_ids}
    for i, span in enumerate(evidence):
        if i in covered:
            continue
        words = set(content_words(span.text))
        if is_repeat(words, kept_words, limit=0.9):
            continue
        kept.append(DraftClaim(span.text.strip(), [i]))
        kept_words.append(words)
        stats["completed_from_evidence"] += 1
