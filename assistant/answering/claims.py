"""Turn evidence or a model's raw text into verified claims.

A claim is one answer sentence with the evidence spans it cites. The small
model's sentences are aligned to the span that supports them (re-attributed
when it cited the wrong one or none), repeats are dropped, sentences nothing
supports are dropped, and evidence it left out is quoted after its sentences.
"""

from __future__ import annotations

import re

from assistant.answering.evidence import Span
from assistant.answering.verification import SupportJudge, parse_markers, strip_markers
from assistant.text.words import content_words

# (sentence, evidence indexes, supported, score[, kind])
ClaimTuple = tuple

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


def extractive_claims(evidence: list[Span]) -> list[ClaimTuple]:
    """Each evidence sentence quoted verbatim with its own citation."""
    return [(span.text.strip(), [i], True, 1.0) for i, span in enumerate(evidence)]


def _is_repeat(words: set[str], kept: list[set[str]], limit: float = 0.8) -> bool:
    return any(words and len(words & other) / len(words) >= limit for other in kept)


def build_answer_claims(
    raw: str, evidence: list[Span], judge: SupportJudge, n_prompt_spans: int, question: str = ""
) -> tuple[list[ClaimTuple], dict]:
    """Verify, repair and complete a model's answer against the evidence.

    Returns:
        (claims, metadata) where metadata counts what the repair did.
    """
    from assistant.answering.verification import split_claims

    stats = {"llm_claims": 0, "llm_claims_kept": 0, "reattributed": 0, "dropped_unsupported": 0,
             "dropped_repeats": 0, "invalid_markers": 0, "completed_from_evidence": 0}
    texts = [s.text for s in evidence]
    kept: list[ClaimTuple] = []
    kept_words: list[set[str]] = []
    covered: set[int] = set()
    question_words = set(content_words(question))
    for claim in split_claims(raw):
        markers = parse_markers(claim)
        cleaned = " ".join(_GARBLED_MARKER.sub("", strip_markers(claim)).split()).strip(" -:")
        cleaned = _SOURCE_LEAD_IN.sub("", cleaned)
        words = set(content_words(cleaned))
        if len(words) < 3 or _NON_ANSWER.search(cleaned):
            continue
        if len(words - question_words) < 2:
            continue  # only restates the question ("The 2025 quota figures are:")
        stats["llm_claims"] += 1
        if _is_repeat(words, kept_words):
            stats["dropped_repeats"] += 1
            continue
        cited = [m - 1 for m in markers if 1 <= m <= n_prompt_spans]
        stats["invalid_markers"] += sum(1 for m in markers if not 1 <= m <= n_prompt_spans)
        scores = judge.scores(cleaned, texts, question=question)
        supporting = [i for i in cited if scores[i] >= judge.threshold]
        if not supporting:
            best = max(range(len(texts)), key=lambda i: scores[i])
            if scores[best] < judge.threshold:
                stats["dropped_unsupported"] += 1
                continue
            supporting = [best]
            stats["reattributed"] += 1
        kept.append((cleaned, supporting, True, max(scores[i] for i in supporting)))
        kept_words.append(words)
        covered.update(supporting)
    stats["llm_claims_kept"] = len(kept)
    metadata: dict = {"repair": stats}
    if not kept:
        metadata["fallback"] = "extractive: no sentence of the model's answer was supported by the sources"
    for i, span in enumerate(evidence):
        if i in covered:
            continue
        words = set(content_words(span.text))
        if _is_repeat(words, kept_words, limit=0.9):
            continue
        kept.append((span.text.strip(), [i], True, 1.0))
        kept_words.append(words)
        stats["completed_from_evidence"] += 1
    return kept, metadata
