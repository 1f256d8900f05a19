"""Gather stage: the few source sentences worth showing a small model, or quoting.

A tiny generator does well with one short, focused span and badly with four
long chunks (see ARCHITECTURE.md), so retrieval's chunks are cut into
sentences, scored against the question, and a diverse handful is kept.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np
from langchain_core.documents import Document as LCDocument

from assistant.answering.evidence_coverage import instance_names, other_instances, question_entities
from assistant.answering.question_shape import names_kind_asked, question_shape
from assistant.answering.safety import is_instruction
from assistant.text.language import NAME_LABELS, parse, read, read_many, refers_back
from assistant.text.sentences import sentence_spans
from assistant.text.words import content_words

# Relevance = cosine similarity, nudged up when the sentence shares the
# question's content words (exact names and numbers matter in news text).
# The chunk's own similarity carries the context a lone sentence lacks
# ("It has used quotas since 2006" means little without its paragraph).
SENTENCE_WEIGHT = 0.55
CHUNK_WEIGHT = 0.2
LEXICAL_WEIGHT = 0.25
MMR_LAMBDA = 0.75
ENTITY_BONUS = 0.08  # the question names Japan: sentences naming Japan come first
CONTINUATION_FACTOR = 0.85
BROAD_MARGIN = 0.25
NARROW_MARGIN = 0.12
NARROW_MAX_SPANS = 3
# A typed one-fact question: the best sentence stating a thing of the asked-for kind may
# come from this far down the ranking to lead the answer.
TYPED_LOOKAHEAD = 8


@dataclass
class Span:
    """A sentence of a source with absolute offsets into its document."""

    doc_id: str
    title: str
    section: str
    start: int
    end: int
    text: str
    chunk_id: str
    score: float = 0.0
    cosine: float = 0.0
    overlap: float = 0.0
    chunk_score: float = 0.0
    previous: int | None = None  # index of the sentence before it in the same paragraph
    base_score: float = 0.0  # before the name and continuation boosts
    date: str | None = None  # the source's newest date, from the question's manifest snapshot
    page: int | None = None  # the PDF page, from the same snapshot (None for other formats)
    published: str | None = None  # the source's dateline or page date (ISO), from the same snapshot


def spans_from_chunks(chunks: list[LCDocument]) -> list[Span]:
    """Split retrieved chunks into sentence spans, once each (chunks overlap)."""
    seen: set[tuple[str, int, int]] = set()
    spans: list[Span] = []
    for chunk in chunks:
        meta = chunk.metadata
        base = int(meta["start"])
        prev_end: int | None = None
        for s, e in sentence_spans(chunk.page_content):
            text = chunk.page_content[s:e]
            same_paragraph = prev_end is not None and "\n" not in chunk.page_content[prev_end:s]
            prev_index = len(spans) - 1 if same_paragraph and spans else None
            prev_end = e
            key = (meta["doc_id"], base + s, base + e)
            statement = (is_statement(text, listed=_is_list_item(chunk.page_content, s))
                         and not _is_title_line(text, str(meta.get("title", ""))))
            if key in seen or not statement:
                prev_end = None if not statement else prev_end
                continue
            seen.add(key)
            spans.append(
                Span(
                    meta["doc_id"], meta.get("title", ""), meta.get("section", ""), base + s, base + e,
                    text, meta["id"], chunk_score=float(meta.get("dense_score") or 0.0),
                    previous=prev_index,
                )
            )
    return spans


# Teaser and navigation sentences of news apps ("Below, we explore ...") say nothing.
_META = re.compile(
    r"\b(we explore|this page|keep reading|read on|curious about|find out more|click here|"
    r"your top questions|stay informed|sign up)\b",
    re.IGNORECASE,
)


def is_statement(text: str, listed: bool = False) -> bool:
    """Questions ("Go deeper" bullets, FAQ titles), teasers, fragments, headings
    (a title, Markdown's "#" or a plain-text one) and instructions aimed at the
    assistant (prompt injection) are not evidence. A list item (``listed``) may
    state a fact without a verb or a full stop ("Export licences for gallium
    and germanium"), so it is never taken for a title."""
    return (
        not text.rstrip().endswith("?")
        and not text.lstrip().startswith("#")
        and len(text.split()) >= 4
        and not _META.search(text)
        and not is_instruction(text)
        and (listed or not is_title(text))
    )


# A list item's marker ("- ", "* ", "• ", "1. "), which sentence splitting leaves before the sentence.
_LIST_MARKER = re.compile(r"\s*(?:[•*·–—-]|\d+[.)])\s+")


def _is_list_item(text: str, start: int) -> bool:
    """Whether the sentence at ``start`` opens a line behind a list marker."""
    line_start = text.rfind("\n", 0, start) + 1
    return bool(_LIST_MARKER.fullmatch(text[line_start:start]))


# How a sentence ends; a line ending otherwise may be a title or a caption.
_SENTENCE_END = (".", "!", "?", "…", '"', "”", "’", "'", ":", ";")


def is_title(text: str) -> bool:
    """A line with no sentence ending and no verb names a thing and states nothing:
    "Yuan dynasty (paragraph 47)", "US Response: Domestic Production and Strategic
    Partnerships". Only such unpunctuated lines are parsed (spaCy's part-of-speech
    tags), so ranking stays cheap; a subtitle or caption with a verb is kept."""
    stripped = text.rstrip()
    if not stripped or stripped.endswith(_SENTENCE_END):
        return False
    return not any(token.pos_ in ("VERB", "AUX") for token in parse(stripped))


def _is_title_line(text: str, title: str) -> bool:
    """The document's title line, which restates its name even with a verb ("To Kill a
    Mockingbird (paragraph 12)") where ``is_title`` would keep it. A title ingest took from
    the first sentence of an untitled text ends like a sentence, and that sentence stays."""
    stripped = text.strip()
    return bool(title) and stripped == title.strip() and not stripped.endswith(_SENTENCE_END)


def question_overlap(question_words: set[str], words: set[str]) -> float:
    """The share of the question's content words a sentence's content ``words`` hold."""
    if not question_words:
        return 0.0
    return len(question_words & words) / len(question_words)


def score_spans(question: str, spans: list[Span], embeddings) -> np.ndarray:
    """Fill each span's score; return the span embedding matrix (rows normalised)."""
    if not spans:
        return np.zeros((0, 0))
    q = np.asarray(embeddings.embed_query(question))
    m = np.asarray(embeddings.embed_documents([s.text for s in spans]))
    cosines = m @ q
    # Overlap with the sentence that asks: a preamble's words are in every sentence about its story.
    q_words = set(content_words(asking_sentence(question)))
    names = [set(content_words(n)) for n in question_entities(question)]
    words = [set(content_words(s.text)) for s in spans]  # each sentence tokenized once
    for span, cos, own in zip(spans, cosines, words, strict=True):
        span.cosine = float(cos)
        span.overlap = question_overlap(q_words, own)
        span.score = (
            SENTENCE_WEIGHT * span.cosine
            + CHUNK_WEIGHT * max(span.chunk_score, span.cosine)
            + LEXICAL_WEIGHT * span.overlap
        )
        span.base_score = span.score
    if names:
        naming = [any(n and n <= own for n in names) for own in words]
        for span, named in zip(spans, naming, strict=True):
            # The sentence right after one naming it in the same paragraph is still about it
            # ("The Islamic State ... (While a self-described state, it lacks recognition)").
            if named or (span.previous is not None and naming[span.previous]):
                span.score += ENTITY_BONUS
    # A sentence continuing a relevant one in the same paragraph is usually
    # about the same thing ("China intensified enforcement ... The Ministry
    # revealed efforts to disrupt smuggling"), even when it shares no words
    # with the question. Boost from the original scores only, one step.
    original = [s.score for s in spans]
    for span in spans:
        if span.previous is not None:
            span.score = max(span.score, CONTINUATION_FACTOR * original[span.previous])
    return m


def rank_spans(question: str, chunks: list[LCDocument], embeddings) -> tuple[list[Span], np.ndarray]:
    """Every usable sentence of the retrieved chunks, scored against the question."""
    spans = spans_from_chunks(chunks)
    return spans, score_spans(question, spans, embeddings)


def choose_spans(
    question: str,
    spans: list[Span],
    matrix: np.ndarray,
    n: int,
    margin: float | None = None,
) -> list[Span]:
    """Up to ``n`` relevant, mutually diverse sentences (maximal marginal relevance).

    Spans scoring more than ``margin`` below the best one are not worth a
    slot: they dilute a small model's context and pad the answer. Broad
    questions ("how", "why", "what steps") get a wider margin than narrow
    ones ("how much", "when", "who"), whose answer is usually one sentence.
    """
    if not spans:
        return []
    shape = question_shape(question)
    broad = shape.broad
    if margin is None:
        margin = BROAD_MARGIN if broad else NARROW_MARGIN
    if not broad:
        n = min(n, NARROW_MAX_SPANS)
    # The margin is measured from the best unboosted score, so a boosted
    # sentence cannot push every other relevant sentence out of the answer.
    doc_best: dict[str, float] = {}  # each document's best unboosted score
    for s in spans:
        unboosted = s.base_score or s.score
        doc_best[s.doc_id] = max(doc_best.get(s.doc_id, unboosted), unboosted)
    best = max(doc_best.values())
    order = sorted(range(len(spans)), key=lambda i: -spans[i].score)
    if broad:
        # A broad question gathers from several sentences, but of the documents about it: one whose
        # best sentence is not within the narrow margin is about another story that shares words.
        order = [i for i in order if doc_best[spans[i].doc_id] >= best - NARROW_MARGIN]
    chosen: list[int] = []
    while order and len(chosen) < n:
        def mmr(i: int) -> float:
            redundancy = max((float(matrix[i] @ matrix[j]) for j in chosen), default=0.0)
            return MMR_LAMBDA * spans[i].score - (1 - MMR_LAMBDA) * redundancy

        i = max(order, key=mmr)
        order.remove(i)
        if spans[i].score < best - margin:
            continue
        if any(float(matrix[i] @ matrix[j]) > 0.92 for j in chosen):
            continue  # a near-duplicate sentence from the other document
        chosen.append(i)
    if shape.expected and not broad and chosen:
        chosen = _lead_with_answer(question, spans, chosen, shape.expected, best - margin)
    return [spans[i] for i in chosen]


def lead_with_focus(follow_up: str, spans: list[Span], evidence: list[Span]) -> list[Span]:
    """For a follow-up that names something new ("What about Japan?"), the sentences naming it first.

    The condensed query still carries the earlier question, whose subject
    outscores the one the user just asked about; what the follow-up names is
    what it asks about. Same number of sentences; unchanged when nothing
    retrieved names it.
    """
    names = [set(content_words(n)) for n in question_entities(follow_up)]
    if not names or not evidence:
        return evidence
    naming = [s for s in sorted(spans, key=lambda s: -s.score)
              if any(n and n <= set(content_words(s.text)) for n in names)]
    if not naming:
        return evidence
    lead = naming[: len(evidence)]
    return [*lead, *[s for s in evidence if s not in lead]][: len(evidence)]


def lead_with_current_events(question: str, evidence: list[Span]) -> list[Span]:
    """A dated article's background ("More than 1,000 people died in 2002 after two earthquakes")
    yields the lead to the next sentence when the question names no year.

    A news article tells its own events under its dateline and earlier ones with their year
    written; "How many people died in the Afghanistan earthquake?" asks about the article's own.
    The lead gives way only when it writes years, none of them its article's, and the next
    sentence writes no year other than its own article's. Needs ``Span.published``.
    """
    if len(evidence) < 2 or read(question).year_groups():
        return evidence

    def years_other_than_its_own(span: Span) -> set[int] | None:
        """The years the sentence writes besides its article's (None: the article has no dateline),
        or an empty set when it writes its article's year too (it tells the article's events)."""
        if not span.published or not span.published[:4].isdigit():
            return None
        written = set().union(*read(span.text).year_groups())
        own = int(span.published[:4])
        return set() if own in written else written - {own}

    lead, nxt = evidence[0], evidence[1]
    lead_other, next_other = years_other_than_its_own(lead), years_other_than_its_own(nxt)
    if not lead_other or next_other is None or next_other:
        return evidence
    return [nxt, lead, *evidence[2:]]


def drop_other_instances(question: str, chunks: list[LCDocument], evidence: list[Span]) -> list[Span]:
    """The evidence without sentences whose passage names another instance of a series the question names.

    "Who was MVP of Super Bowl LV?" over reports of Super Bowl LV and LVII:
    "Patrick Mahomes was named MVP" shares the question's words, but its
    passage names Super Bowl LVII and never LV. Unchanged when it would leave
    nothing (``abstention.unpaired_instances`` then decides).
    """
    names = instance_names(question)
    if not evidence or not names:
        return evidence
    texts = {c.metadata.get("id"): passage_text(c) for c in chunks}
    kept = [s for s in evidence if not any(other_instances(n, texts.get(s.chunk_id, s.text)) for n in names)]
    return kept or evidence


def passage_text(chunk: LCDocument) -> str:
    """A chunk's text under its document's title (the title often names what the passage is about)."""
    return f"{chunk.metadata.get('title', '')}\n{chunk.page_content}"


def _lead_with_answer(question: str, spans: list[Span], chosen: list[int], expected: frozenset[str],
                      floor: float) -> list[int]:
    """Put first the sentence that states a thing of the kind asked for ("When": a date)
    and shares the question's most distinctive words.

    Looks a little past the chosen sentences, since the one that states the
    date may rank just below one that merely repeats the question's words.
    Among those of the right kind, the question's words are weighted by how
    rare they are among the retrieved sentences: every sentence about rare
    earths says "China", only the one that answers says "quotas" and "used".
    """
    question_reading, asking = read(question), read(asking_sentence(question))
    ranked = sorted(range(len(spans)), key=lambda i: -spans[i].score)
    # It must pair with the question (share a content word), not just name a person:
    # a photo credit names one too.
    pool = [i for i in dict.fromkeys([*chosen, *ranked[:TYPED_LOOKAHEAD]])
            if spans[i].score >= floor and spans[i].overlap > 0]
    readings = dict(zip(pool, read_many([spans[i].text for i in pool]), strict=True))
    typed = [i for i in pool if names_kind_asked(readings[i], expected, question_reading)]
    if not typed:
        return chosen
    # The words of the sentence that asks weigh, not a preamble's ("Aaron Judge hit his 62nd home run
    # this week. Who holds the record with 73 home runs?": every sentence about Judge shares the first).
    weight = _rarity(asking.lemmas, [r.lemmas for r in readings.values()])
    best = max(typed, key=lambda i: (sum(weight[w] for w in asking.lemmas & readings[i].lemmas),
                                     spans[i].score))
    return [best, *[j for j in chosen if j != best]][: len(chosen)]


def asking_sentence(question: str) -> str:
    """The sentence of ``question`` that asks (the last one ending in "?"), or all of it.

    News quizzes and users put context first: "Aaron Judge hit his 62nd home run this week.
    Who holds the record with 73 home runs?". When the asking sentence refers back with a
    pronoun ("Which team did he call games for?"), the names the context gives come with it.
    """
    sentences = [question[s:e] for s, e in sentence_spans(question)]
    asking = [s for s in sentences if s.rstrip().endswith("?")]
    if len(sentences) < 2 or not asking:
        return question
    last = asking[-1]
    if not refers_back(parse(last)):
        return last
    context = question[: question.rfind(last)]
    return " ".join([*(e.text for e in read(context).entities if e.label in NAME_LABELS), last])



def _rarity(words: frozenset[str], sentences: list[frozenset[str]]) -> dict[str, float]:
    """Inverse document frequency of each word among these sentences (smoothed)."""
    n = len(sentences)
    return {w: math.log((n + 1) / (sum(w in s for s in sentences) + 0.5)) for w in words}


@dataclass
class GatheredEvidence:
    """The gather stage's result: what was retrieved and what the answer may cite."""

    chunks: list[LCDocument]  # retrieved, best first
    spans: list[Span]  # every usable sentence of the chunks, scored (conflicts look at all of them)
    evidence: list[Span]  # the few chosen to answer from, best first
    # How well the best of the first evidence sentences answers the question under the index
    # encoder (``abstention.question_match``); None when no threshold calls for it.
    match: float | None = None
    # The question's nouns no retrieved passage mentions (``evidence_coverage.unmatched_nouns``):
    # the match must then reach the stricter threshold.
    unmatched: list[str] = field(default_factory=list)

    def best_score(self) -> float:
        """The chosen evidence's best score (0.0 when none), rounded as the answer reports it."""
        return round(self.evidence[0].score, 4) if self.evidence else 0.0
