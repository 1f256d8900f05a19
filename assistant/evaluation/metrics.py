"""Eval metrics as small pure functions, so each can be checked against a hand computation.

Nothing here loads a model: the support judge is passed in as a callable
``supports(sentence, snippet) -> bool``, and embeddings as vectors.

Conventions (documented in README "Evaluation"):

* Fact matching: a fact is hit when one of its acceptable spellings occurs in
  the answer after :func:`normalise_fact_text` (case, Unicode NFKC, curly quotes,
  dashes/hyphens as spaces, whitespace collapsed, thousands separators removed,
  "60.3 %" -> "60.3%"). The spelling must start at a word boundary, and a
  spelling that ends in a digit must also end at one, so "60.3" does not match
  "160.35" while "transship" still matches "transshipping".
* Retrieval is scored at document level: a retrieved chunk id's prefix before
  ':' is its document id; the ranking is the retrieved chunks' documents with
  repeats removed.
* Citations are scored ALCE-style (Gao et al., 2023) with a deterministic judge.
"""

from __future__ import annotations

import math
import re
import string
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

# Answering's own marker and sentence rules, so the eval reads answers as they were written.
from assistant.answering.verification import CITATION_MARK, split_claims, strip_markers

SupportFn = Callable[[str, str], bool]

_DASHES = "\u2010\u2011\u2012\u2013\u2014\u2212-"
_QUOTES = {"\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u201c": '"', "\u201d": '"', "\u201e": '"'}
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}\b)")
_PERCENT = re.compile(r"(?<=\d)\s+(%|percent\b|per cent\b)")


# ----- facts -------------------------------------------------------------------------
def normalise_fact_text(text: str) -> str:
    """Normalise answer text or a fact spelling for matching (see module docstring)."""
    text = unicodedata.normalize("NFKC", text).lower()
    for curly, straight in _QUOTES.items():
        text = text.replace(curly, straight)
    for dash in _DASHES:
        text = text.replace(dash, " ")
    text = _THOUSANDS.sub("", text)
    text = _PERCENT.sub(r"\1", text)
    text = text.replace("per cent", "percent")
    return " ".join(text.split())


def contains_fact(text: str, spelling: str) -> bool:
    """True when ``spelling`` occurs in ``text`` (both normalised) on word boundaries."""
    hay = normalise_fact_text(text)
    needle = normalise_fact_text(spelling)
    if not needle:
        return False
    start = r"(?<![a-z0-9])" if needle[0].isalnum() else ""
    end = r"(?![.,]?[0-9])" if needle[-1].isdigit() else ""  # "60.3" is not "60.35"
    return re.search(start + re.escape(needle) + end, hay) is not None


def fact_hits(text: str, facts: Sequence[Sequence[str]]) -> tuple[list[str], list[str]]:
    """Split facts into (hit, missed), each named by its first spelling."""
    hit: list[str] = []
    missed: list[str] = []
    for alternatives in facts:
        (hit if any(contains_fact(text, a) for a in alternatives) else missed).append(alternatives[0])
    return hit, missed


def fact_recall(text: str, facts: Sequence[Sequence[str]]) -> float | None:
    """Share of facts with an acceptable spelling in ``text``; None when there are no facts."""
    if not facts:
        return None
    hit, _ = fact_hits(text, facts)
    return len(hit) / len(facts)


# ----- answer similarity -------------------------------------------------------------
def answer_words(text: str) -> int:
    """Words a reader has to get through, markers not counted."""
    return len(strip_markers(text).split())


def first_sentence_holds(text: str, facts: Sequence[Sequence[str]]) -> bool:
    """Whether the answer's first sentence alone states the (single) required fact.

    A one-fact question should be answered by the first sentence; everything
    after it is support the reader may skip.
    """
    sentences = split_sentences(text)
    if not sentences or not facts:
        return False
    hit, _ = fact_hits(strip_markers(sentences[0]), facts[:1])
    return bool(hit)


# A question with this many facts gathers them from several sentences: a broad ("Go deeper") question.
BROAD_MIN_FACTS = 3


def fact_sentence_share(text: str, facts: Sequence[Sequence[str]]) -> float | None:
    """The share of the answer's sentences that state at least one gold fact.

    Measures what fact recall cannot: a broad answer that gathers its facts
    but pads them with sentences on the topic that answer nothing ("These
    minerals are essential for electronics" under "How is China enforcing
    its export controls?"). A lower bound: a sentence may answer in words the
    gold does not list. None for questions with fewer than ``BROAD_MIN_FACTS``.
    """
    if len(facts) < BROAD_MIN_FACTS:
        return None
    sentences = [strip_markers(s) for s in split_sentences(text)]
    if not sentences:
        return None
    holding = sum(1 for s in sentences if fact_hits(s, facts)[0])
    return holding / len(sentences)


# At most this many characters part a sentence from the one before it in its source: a space,
# or a paragraph break.
ADJACENT_GAP = 4


def dangling_reference_share(cited: Sequence[tuple[str, str, int, int]],
                             points_back: Callable[[str], bool]) -> float | None:
    """The share of the answer's sentences that point back at something the answer never said.

    ``cited``: each sentence as (text, source, start, end) of the span it
    quotes, in answer order. A sentence that leans on what came before it, as
    judged by ``points_back`` (a subject pointing back: "Since 2006, it has used
    export quotas", "This dynamic underscores ..."; or a quotation with no
    speaker), reads right only after the sentence before it in its source;
    first, or after a sentence from elsewhere, it does not say who or what.
    None for an answer with no cited sentence.
    """
    if not cited:
        return None
    dangling = 0
    for i, (text, source, start, _end) in enumerate(cited):
        before = cited[i - 1] if i else None
        follows = before is not None and before[1] == source and 0 <= start - before[3] <= ADJACENT_GAP
        dangling += not follows and points_back(text)
    return dangling / len(cited)


def answer_tokens(text: str) -> list[str]:
    """SQuAD-style tokens: lower case, punctuation and articles removed, numbers unseparated."""
    text = normalise_fact_text(strip_markers(text))
    text = "".join(" " if ch in string.punctuation and ch not in ".%$" else ch for ch in text)
    text = re.sub(r"(?<!\d)\.|\.(?!\d)", " ", text)  # keep decimal points only
    return [t for t in text.split() if t not in {"a", "an", "the"}]


def token_f1(prediction: str, reference: str) -> float:
    """Token-overlap F1 between an answer and a reference answer (SQuAD definition)."""
    pred, ref = answer_tokens(prediction), answer_tokens(reference)
    if not pred or not ref:
        return float(pred == ref)
    common = sum((Counter(pred) & Counter(ref)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    """Cosine similarity of two vectors (0 for a zero vector)."""
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    na = math.sqrt(sum(x * x for x in a))
    nb = math.sqrt(sum(y * y for y in b))
    return dot / (na * nb) if na and nb else 0.0


# ----- retrieval ---------------------------------------------------------------------
def doc_ranking(chunk_ids: Iterable[str]) -> list[str]:
    """Document ids in order of first appearance among retrieved chunk ids ("doc:hash")."""
    out: list[str] = []
    for cid in chunk_ids:
        doc = cid.split(":", 1)[0]
        if doc not in out:
            out.append(doc)
    return out


def recall_at_k(ranking: Sequence[str], gold: Iterable[str]) -> float | None:
    """Share of gold documents among the retrieved ones (the ranking is already cut at k)."""
    gold = set(gold)
    if not gold:
        return None
    return len(gold & set(ranking)) / len(gold)


def reciprocal_rank(ranking: Sequence[str], gold: Iterable[str]) -> float | None:
    """1 / rank of the first gold document; 0 when none was retrieved."""
    gold = set(gold)
    if not gold:
        return None
    for rank, doc in enumerate(ranking, start=1):
        if doc in gold:
            return 1.0 / rank
    return 0.0


def ndcg_at(ranking: Sequence[str], gold: Iterable[str], n: int = 10) -> float | None:
    """Binary-relevance nDCG over the first ``n`` documents of the ranking."""
    gold = set(gold)
    if not gold:
        return None
    dcg = sum(1.0 / math.log2(i + 2) for i, doc in enumerate(ranking[:n]) if doc in gold)
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(len(gold), n)))
    return dcg / ideal


# ----- citations ---------------------------------------------------------------------
@dataclass
class SentenceVerdict:
    """One answer sentence: the citations it carries and the judge's verdicts."""

    text: str
    citation_ids: list[int]
    invalid_ids: list[int] = field(default_factory=list)
    supported: bool = False  # all its valid citations together support it (citation recall)
    precise: dict[int, bool] = field(default_factory=dict)  # per citation (citation precision)


@dataclass
class CitationScores:
    recall: float | None
    precision: float | None
    invalid_rate: float | None
    sentences: list[SentenceVerdict]
    n_markers: int
    n_invalid: int


def split_sentences(text: str) -> list[str]:
    """Answer sentences, each keeping the ``[n]`` markers that follow it."""
    return [s for s in split_claims(text) if strip_markers(s).strip(" .")]


def citation_scores(
    sentences: Sequence[str],
    snippets: dict[int, str],
    supports: SupportFn,
) -> CitationScores:
    """ALCE citation recall and precision with a deterministic judge.

    * Recall: a sentence counts when it carries at least one valid citation and
      the concatenation of its cited snippets supports it.
    * Precision: a citation of a supported sentence is precise when its snippet
      alone supports the sentence, or when removing it leaves the rest unable
      to (it is needed). Citations of unsupported sentences are not precise.
    * A marker ``[n]`` with no citation ``n`` is invalid; it counts as an
      imprecise citation and in the invalid-citation rate.
    * A citation repeated within one sentence ("[1] [1]") counts once.

    Args:
        sentences: answer sentences with their markers.
        snippets: citation id -> snippet text.
        supports: the judge, ``supports(sentence_without_markers, snippet)``.
    """
    verdicts: list[SentenceVerdict] = []
    n_markers = n_invalid = n_precise = 0
    for raw in sentences:
        ids: list[int] = []
        for m in CITATION_MARK.finditer(raw):
            for n in m.group(1).split(","):
                if int(n) not in ids:
                    ids.append(int(n))
        text = strip_markers(raw)
        valid = [i for i in ids if i in snippets]
        verdict = SentenceVerdict(text=text, citation_ids=ids, invalid_ids=[i for i in ids if i not in snippets])
        n_markers += len(ids)
        n_invalid += len(verdict.invalid_ids)
        if valid:
            verdict.supported = supports(text, " ".join(snippets[i] for i in valid))
        for i in valid:
            if not verdict.supported:
                verdict.precise[i] = False
            elif len(valid) == 1 or supports(text, snippets[i]):
                verdict.precise[i] = True
            else:
                rest = " ".join(snippets[j] for j in valid if j != i)
                verdict.precise[i] = not supports(text, rest)
        for i in verdict.invalid_ids:
            verdict.precise[i] = False
        n_precise += sum(verdict.precise.values())
        verdicts.append(verdict)
    recall = sum(v.supported for v in verdicts) / len(verdicts) if verdicts else None
    precision = n_precise / n_markers if n_markers else None
    invalid_rate = n_invalid / n_markers if n_markers else None
    return CitationScores(recall, precision, invalid_rate, verdicts, n_markers, n_invalid)


def source_precision(cited_sources: Iterable[str], gold: Iterable[str]) -> float | None:
    """Share of distinct cited documents that are gold sources; None when nothing is cited."""
    cited, gold = set(cited_sources), set(gold)
    if not cited or not gold:
        return None
    return len(cited & gold) / len(cited)


# ----- abstention, latency, aggregation ----------------------------------------------
def abstention_rates(answerable: Sequence[bool], abstained: Sequence[bool]) -> tuple[float | None, float | None]:
    """(accuracy on unanswerable items, false-abstention rate on answerable items)."""
    unans = [a for ok, a in zip(answerable, abstained, strict=True) if not ok]
    ans = [a for ok, a in zip(answerable, abstained, strict=True) if ok]
    acc = sum(unans) / len(unans) if unans else None
    false_rate = sum(ans) / len(ans) if ans else None
    return acc, false_rate


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear-interpolated percentile (numpy's default), ``q`` in [0, 100]."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


# ----- uncertainty ---------------------------------------------------------------------
#: Two-sided confidence of the intervals the report prints beside a rate.
CONFIDENCE = 0.95
_Z = 1.959964  # the standard normal quantile for 95 %
#: Bootstrap resamples for means of per-item scores; the seed is fixed so a report is reproducible.
BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED = 2000, 15


def wilson_interval(successes: int, n: int) -> tuple[float, float] | None:
    """95 % Wilson score interval of a proportion (None when ``n`` is 0).

    With 7 unanswerable items, 3 abstained reads 0.43 but means anything from
    0.16 to 0.75: the interval says how far a small part's rate can be trusted.
    Wilson, unlike the normal approximation, stays inside [0, 1] at 0 and n.
    """
    if n <= 0:
        return None
    p = successes / n
    centre = (p + _Z**2 / (2 * n)) / (1 + _Z**2 / n)
    half = _Z * math.sqrt(p * (1 - p) / n + _Z**2 / (4 * n * n)) / (1 + _Z**2 / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def bootstrap_interval(values: Iterable[float | None]) -> tuple[float, float] | None:
    """95 % percentile-bootstrap interval of the mean of per-item scores (None when there are none)."""
    import numpy as np

    vals = np.asarray([v for v in values if v is not None], dtype=float)
    if not len(vals):
        return None
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    means = vals[rng.integers(0, len(vals), size=(BOOTSTRAP_RESAMPLES, len(vals)))].mean(axis=1)
    tail = (1 - CONFIDENCE) / 2 * 100
    return float(np.percentile(means, tail)), float(np.percentile(means, 100 - tail))


def mean(values: Iterable[float | None]) -> float | None:
    """Mean of the defined values; None when there are none."""
    vals = [v for v in values if v is not None]
    return sum(vals) / len(vals) if vals else None


# ----- judge agreement ---------------------------------------------------------------
def agreement(gold: Sequence[bool], predicted: Sequence[bool]) -> dict[str, float | int | None]:
    """Accuracy, precision and recall of "supported", and Cohen's kappa."""
    n = len(gold)
    tp = sum(g and p for g, p in zip(gold, predicted, strict=True))
    tn = sum((not g) and (not p) for g, p in zip(gold, predicted, strict=True))
    fp = sum((not g) and p for g, p in zip(gold, predicted, strict=True))
    fn = sum(g and (not p) for g, p in zip(gold, predicted, strict=True))
    if not n:
        return {"n": 0, "tp": 0, "tn": 0, "fp": 0, "fn": 0, "accuracy": None, "precision": None,
                "recall": None, "kappa": None}
    acc = (tp + tn) / n
    p_yes = ((tp + fn) / n) * ((tp + fp) / n)
    p_no = ((tn + fp) / n) * ((tn + fn) / n)
    expected = p_yes + p_no
    kappa = 1.0 if expected == 1 else (acc - expected) / (1 - expected)
    return {
        "n": n, "tp": tp, "tn": tn, "fp": fp, "fn": fn,
        "accuracy": acc,
        "precision": tp / (tp + fp) if tp + fp else None,
        "recall": tp / (tp + fn) if tp + fn else None,
        "kappa": kappa,
    }
