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


# Refusals and talk about the sources themselves ("The citations highlight ...")
# are not claims about the world; the model writes them when it has nothing to say.
_NON_ANSWER = re.compile(
    r"(do(es)? not (say|mention|provide|cover)|don't know|no information|not (mentioned|provided)|cannot answer"
    r"|\b(the |these )?(citations?|sources?|quotes?) (above |provided )?(highlight|show|say|mention|provide|indicate|suggest)s?\b)",
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


def _is_repeat(words: set[str], kept: list[set[str]], limit: float = 0.8) -> bool:
    return any(words and len(words & other) / len(words) >= limit for other in kept)


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
    stats = {"llm_claims": 0, "llm_claims_kept": 0, "reattributed": 0, "dropped_unsupported": 0,
             "dropped_repeats": 0, "invalid_markers": 0, "completed_from_evidence": 0}
    kept: list[DraftClaim] = []
    kept_words: list[set[str]] = []
    question_words = set(content_words(question))
    for sentence in split_claims(raw):
        cleaned = _claim_text(sentence)
        words = set(content_words(cleaned))
        if len(words) < 3 or _NON_ANSWER.search(cleaned):
            continue
        if len(words - question_words) < 2:
            continue  # only restates the question ("The 2025 quota figures are:")
        stats["llm_claims"] += 1
        if _is_repeat(words, kept_words):
            stats["dropped_repeats"] += 1
            continue
        claim = _attribute(cleaned, parse_markers(sentence), evidence, judge, n_prompt_spans, question, stats)
        if claim is not None:
            kept.append(claim)
            kept_words.append(words)
    stats["llm_claims_kept"] = len(kept)
    metadata: dict = {"repair": stats}
    if not kept:
        metadata["fallback"] = "extractive: no sentence of the model's answer was supported by the sources"
    _complete_from_evidence(kept, kept_words, evidence, stats)
    return kept, metadata


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
        if _is_repeat(words, kept_words, limit=0.9):
            continue
        kept.append(DraftClaim(span.text.strip(), [i]))
        kept_words.append(words)
        stats["completed_from_evidence"] += 1
