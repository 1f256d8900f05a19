"""Decide stage: answer, answer in part, or abstain, before anything is written.

Abstain when there is no relevant evidence (saying which documents came closest), a named thing the documents
never mention, no evidence sentence that reads as an answer to the question
(only as being on its topic; it must read closer when a noun of the question
is in no passage), a figure asked for that no evidence sentence gives, a role
nobody in the evidence holds, or an event after the newest source. The
tests of what a question asks and what a text covers are in
``evidence_coverage.py``, because ranking and conflict notes use them too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from assistant.answering.evidence import Span, passage_text
from assistant.answering.evidence_coverage import (
    asks_about_outcome,
    asks_for_figure,
    gives_figure,
    instance_names,
    measured_word,
    mentioned,
    missing_entities,
    other_instances,
    question_entities,
    role_missing,
)
from assistant.answering.question_shape import names_kind_asked, question_shape
from assistant.text.dates import find_dates, quarters
from assistant.text.language import read
from assistant.text.words import content_words

NOT_COVERED = "The documents do not cover this, so I can't answer it from them."
# The passages of the best few evidence sentences are where a year asked about must appear.
EVIDENCE_FOR_YEARS = 3
# The evidence sentences the question-match check reads: past the third, a sentence
# rarely leads the answer (dev, both suites: the same separation with 3 as with 7).
MATCH_SENTENCES = 3
# When none of them matches, the next best-ranked sentences get a second look (~11 ms each
# under e5, paid only by the questions that would otherwise abstain on this check).
SECOND_LOOK_SENTENCES = 12
# Then windows of the long ones among the first three: words per window, and the step.
WINDOW_WORDS, WINDOW_STEP = 16, 8
# A question refused as off-topic names the titles of this many of the closest documents.
NEAREST_DOCUMENTS = 3
# The share of the question's content words a sentence must hold for its figure to count as
# the figure asked about: half; a quarter when the sentence names what the question counts or
# measures. Half alone was too strict for news, whose questions carry long preambles: "How many
# Russians could soon be conscripted into the country's military?" holds 2 of 5 words in
# "Defense Minister Sergei Shoigu said on Russian television ... the country will call up
# 300,000 reservists". A quarter alone answered "What was MP Materials' share price?" with
# Apple's "$500 million deal with MP Materials" (no price in it).
FIGURE_TOPIC_OVERLAP = 0.5
FIGURE_NAMING_OVERLAP = 0.25


@dataclass
class Abstention:
    """The decide stage's verdict; when ``abstain`` is False the answer is written."""

    abstain: bool
    reason: str = ""
    message: str = ""
    not_covered: list[str] = field(default_factory=list)
    context_span: int | None = None  # an evidence index worth citing alongside the abstention


def question_match(question: str, evidence: list[Span], encoder) -> float:
    """How well the best of the top evidence sentences answers ``question``, under ``encoder``.

    The index encoder (e5) was trained on questions against the passages that
    answer them, so it tells "answers it" from "is about the same thing" better
    than the sentence ranker: when the paragraph answering a question is
    missing, the rest of its article still ranks high on topic, yet no sentence
    matches the question as its answer would (dev AUC among the questions no
    other rule refused: 0.97 against 0.93 for the ranker's score).
    """
    texts = [s.text for s in evidence[:MATCH_SENTENCES]]
    return _best_match(query_vector(question, encoder), texts, encoder)[1] if texts else 0.0


def query_vector(question: str, encoder):
    """``question``'s vector under ``encoder`` (which caches it: every check of one question reuses it)."""
    import numpy as np

    return np.asarray(encoder.embed_query(question))


def match_scores(asked, texts: list[str], encoder):
    """The cosine of each of ``texts`` with the question vector ``asked``, under ``encoder``."""
    import numpy as np

    return np.asarray(encoder.embed_documents(texts)) @ asked


def _best_match(asked, texts: list[str], encoder) -> tuple[int, float]:
    """(index, cosine) of the text the question vector ``asked`` matches best."""
    import numpy as np

    scores = match_scores(asked, texts, encoder)
    best = int(np.argmax(scores))
    return best, float(scores[best])


def states_kind_asked(question: str, evidence: list[Span]) -> bool:
    """Whether a sentence shares the question's words and names a thing of the kind it asks for.

    "Who is Acme's chief executive?" is answered by "Chief executive Dana Reyes
    said the sensor business grew 12%", whose vector the second fact dilutes
    (e5 match 0.81): a person named beside the question's words is an answer
    the question-match check must not refuse. Kinds come from the question's
    parse (``question_shape``), names from spaCy.
    """
    shape = question_shape(question)
    if shape.broad or not shape.expected:
        return False
    asked = read(question)
    return any(span.overlap > 0 and names_kind_asked(read(span.text), shape.expected, asked) for span in evidence)


def _names_measured(question: str, text: str) -> bool:
    """Whether ``text`` names what the figure question counts ("employees"), or the question
    names nothing it counts ("how much have prices risen?")."""
    measured = measured_word(question)
    return measured is None or set(content_words(measured)) <= set(content_words(text))


def unpaired_years(question: str, chunks, evidence: list[Span]) -> Abstention | None:
    """Abstain when the question names a year that the passages answering it never mention.

    "Who won in 2018?" over documents about the 2019 and 2021 winners retrieves
    good-looking evidence about the wrong year; the year (read by spaCy as a
    DATE or in an EVENT; a season "2021–22" by either of its years) must appear
    in the passages the best evidence comes from, or be the year their article was
    published (its dateline: a news story of July 2022 tells 2022's events without
    writing the year in every paragraph).
    """
    asked = read(question).year_groups()
    if not asked:
        return None
    passages = _answering_passages(chunks, evidence)
    groups = sorted({g for text in passages for g in read(text).year_groups()}
                    | {frozenset([int(s.published[:4])]) for s in evidence[:EVIDENCE_FOR_YEARS]
                       if s.published and s.published[:4].isdigit()},
                    key=lambda g: (min(g), len(g)))
    given = set().union(*groups)
    missing = [_year_text(group) for group in dict.fromkeys(asked) if not group & given]
    if not missing:
        return None
    return _not_given("year_not_covered", list(dict.fromkeys(_year_text(g) for g in groups))[:4], missing)


def years_written_on_names(question: str, evidence: list[Span]) -> Abstention | None:
    """Abstain when the question asks about a named thing in a year ("Who won the World Series
    in 2022?") and the lead writes that name with another year ("... the 2021 World Series
    champions the Atlanta Braves ... on September 26, 2022") while none of the best few evidence
    sentences writes it with the year asked. ``unpaired_years`` lets the dateline's year stand
    for a news story's events; a year written on the very name says otherwise.
    """
    asked = read(question).year_groups()
    names = question_entities(question) if asked and evidence else []
    if not names:
        return None
    asked_years = set().union(*asked)

    def years_on_names(text: str) -> set[int]:
        return {int(m.group(1)) for name in names
                for m in re.finditer(rf"\b((?:19|20)\d\d)(?:[–-]\d\d)?\s+{re.escape(name)}\b", text)}

    written = years_on_names(evidence[0].text)
    if not written or written & asked_years:
        return None
    if any(years_on_names(s.text) & asked_years for s in evidence[:EVIDENCE_FOR_YEARS]):
        return None
    return _not_given("year_not_covered", [str(y) for y in sorted(written)],
                      [_year_text(g) for g in dict.fromkeys(asked)])


def unpaired_instances(question: str, chunks) -> Abstention | None:
    """Abstain when the question names one instance of a series ("Super Bowl LV") that no
    retrieved passage names while some name others ("Super Bowl LVII")."""
    names = instance_names(question)
    texts = [passage_text(c) for c in chunks] if names else []
    for name in names:
        others = [o for t in texts for o in other_instances(name, t)]
        if others and not any(mentioned(name, [t]) for t in texts):
            return _not_given("instance_not_covered", list(dict.fromkeys(others))[:4], [name])
    return None


def _not_given(reason: str, given: list[str], missing: list[str]) -> Abstention:
    """Abstain naming the periods asked for and those the documents do give."""
    asked_text = " and ".join(missing)
    message = (f"The documents give {', '.join(given)}, not {asked_text}, for this." if given
               else f"The documents do not cover {asked_text} for this.")
    return Abstention(True, reason, message, not_covered=missing, context_span=0)


def _year_text(group: frozenset[int]) -> str:
    """"2018", a season "2021–22", or a decade or century "the 1950s"."""
    years = sorted(group)
    if len(years) > 2:
        return f"the {years[0]}s"
    return str(years[0]) if len(years) == 1 else f"{years[0]}–{str(years[1])[-2:]}"


def unpaired_quarters(question: str, chunks, evidence: list[Span]) -> Abstention | None:
    """Abstain when the question names a quarter or half-year the passages answering it never mention.

    "What was the revenue in Q3 2019?" over a report of the second quarter
    retrieves that quarter's revenue; the same year is no help (quarters are
    read by ``text.dates.quarters``).
    """
    asked = quarters(question)
    if not asked:
        return None
    given = set().union(*(quarters(text) for text in _answering_passages(chunks, evidence)))
    missing = sorted(asked - given)
    if not missing:
        return None
    return _not_given("period_not_covered", [q.upper() for q in sorted(given)], [q.upper() for q in missing])


def _answering_passages(chunks, evidence: list[Span]) -> list[str]:
    """The passages the best few evidence sentences come from (their sentences when unknown)."""
    used = {s.chunk_id for s in evidence[:EVIDENCE_FOR_YEARS]}
    return [c.page_content for c in chunks if c.metadata.get("id") in used] or [s.text for s in evidence]


def _nearest_documents(chunks) -> str:
    """" The closest documents: “A”; “B”." from the retrieved chunks, so a refused question
    says what the documents do cover (nothing when nothing was retrieved)."""
    titles = list(dict.fromkeys(str(c.metadata.get("title") or c.metadata.get("doc_id") or "") for c in chunks))
    titles = [t for t in titles if t][:NEAREST_DOCUMENTS]
    return f" The closest documents: {'; '.join(f'“{t}”' for t in titles)}." if titles else ""


def _lead_up(chunks, span: Span) -> str:
    """The span's title and its passage up to its end: where a name it refers back to is."""
    for chunk in chunks:
        if chunk.metadata.get("id") == span.chunk_id:
            return f"{span.title}\n{chunk.page_content[: span.end - int(chunk.metadata.get('start', 0))]}"
    return f"{span.title}\n{span.text}"


def second_look(question: str, spans: list[Span], evidence: list[Span], encoder,
                threshold: float, kind_suffices: bool = True) -> tuple[list[Span], float]:
    """(evidence, its question match), with a lower-ranked sentence leading when only it matches.

    When no look reaches ``threshold`` the evidence is unchanged and the match is the
    best any look saw, so the decide stage can tell whether a lower, general threshold
    would have answered (it then blames the question's unmentioned nouns).

    The sentence ranker can put the sentence that answers below three that
    repeat the question's words; rather than abstain, the next
    ``SECOND_LOOK_SENTENCES`` ranked sentences are matched too, and the best of
    them leads the evidence when it reaches ``threshold``; failing that, windows
    of the first three long sentences are matched, one clause at a time.
    ``assistant calibrate`` (threshold 0) sees the first look only: the later
    looks can only answer more, and calibrating on them too (0.49 / 0.844)
    refused more on the sealed tests. ``kind_suffices`` False: naming the kind asked
    does not spare the later looks (a question noun is in no passage).
    """
    match = question_match(question, evidence, encoder)
    # The later looks exist to spare an abstention; a typed question whose evidence names
    # a thing of the kind asked is not refused (``check_coverage``), and its lead, chosen
    # for naming that thing, must not give way to a sentence that only reads closer.
    if match >= threshold or (kind_suffices and states_kind_asked(question, evidence[:MATCH_SENTENCES])):
        return evidence, match
    asked = query_vector(question, encoder)  # cached by the encoder since the first look
    others = _next_ranked(spans, evidence)
    # A long sentence may answer in one clause ("... from the Pen-y-darren ironworks to
    # Abercynon in south Wales"), which the whole sentence's vector dilutes: its windows
    # are matched on their own.
    windows = [(s, w) for s in evidence[:MATCH_SENTENCES] for w in _windows(s.text)]
    best = match
    for candidates in ([(s, s.text) for s in others], windows):
        if not candidates:
            continue
        at, score = _best_match(asked, [text for _, text in candidates], encoder)
        if score >= threshold:
            lead = candidates[at][0]
            return _led_by(lead, evidence), score
        best = max(best, score)
    return evidence, best


def gives_asked_figure(question: str, chunks, sentences: list[Span], named: bool = False) -> bool:
    """Whether one of ``sentences`` gives the figure ``question`` asks for, about its subject.

    A figure only counts when its sentence is about the question's subject:
    "exports jumped 60.3%" does not answer "what were the quota figures?".
    ``named``: every sentence must name what the question counts, which the question
    must then name ("swings" in "how many baby swings ...?"); else a question naming
    nothing it counts ("how much in damages?") takes any number near its words ("the
    first two attempts"), and "the 2025 quota figures" a "$500 million deal" of 2025.
    """
    if named:
        if measured_word(question) is None:
            return False
        on_topic = [s for s in sentences if s.overlap >= FIGURE_NAMING_OVERLAP and _names_measured(question, s.text)]
    else:
        on_topic = [s for s in sentences if s.overlap >= FIGURE_TOPIC_OVERLAP
                    or (s.overlap >= FIGURE_NAMING_OVERLAP and _names_measured(question, s.text))]
    return gives_figure([s.text for s in on_topic], question, [_lead_up(chunks, s) for s in on_topic])


def lead_with_figure(question: str, chunks, spans: list[Span], evidence: list[Span]) -> list[Span]:
    """The evidence, led by a lower-ranked sentence giving the figure asked when the first ones give none.

    "Approximately how many baby swings were recalled?" ranks "Millions of baby
    swings and rockers ... have been recalled" first and "The recall affects 2
    million MamaRoo swings" fifth; the figure check reads the first
    ``MATCH_SENTENCES`` only and would abstain. So the next ``SECOND_LOOK_SENTENCES``
    ranked sentences are read for the figure, under the same test of being on the
    question's subject (stricter: these sentences read less like an answer), and the
    best-ranked one that gives it leads.
    """
    if not evidence or not asks_for_figure(question) or gives_asked_figure(question, chunks, evidence[:MATCH_SENTENCES]):
        return evidence
    for lead in _next_ranked(spans, evidence):
        if gives_asked_figure(question, chunks, [lead], named=True):
            return _led_by(lead, evidence)
    return evidence


def _next_ranked(spans: list[Span], evidence: list[Span]) -> list[Span]:
    """The ``SECOND_LOOK_SENTENCES`` best-ranked sentences after the first ``MATCH_SENTENCES`` of the evidence."""
    shown = {id(s) for s in evidence[:MATCH_SENTENCES]}
    return [s for s in sorted(spans, key=lambda s: -s.score) if id(s) not in shown][:SECOND_LOOK_SENTENCES]


def _led_by(lead: Span, evidence: list[Span]) -> list[Span]:
    """``evidence`` with ``lead`` first, as long as it was."""
    return [lead, *[s for s in evidence if s is not lead]][: len(evidence)]


def _windows(text: str) -> list[str]:
    """Overlapping word windows of a sentence long enough to hold several clauses (else none)."""
    words = text.split()
    if len(words) <= WINDOW_WORDS + WINDOW_STEP // 2:
        return []
    return [" ".join(words[i:i + WINDOW_WORDS]) for i in range(0, len(words) - WINDOW_STEP, WINDOW_STEP)]


def check_coverage(
    question: str,
    chunks,
    evidence: list[Span],
    threshold: float,
    newest: tuple[str, str] | None = None,
    embeddings=None,
    match: float | None = None,
    match_threshold: float | None = None,
    unmatched: list[str] | None = None,
    unmatched_threshold: float | None = None,
) -> Abstention:
    """Decide whether the evidence answers ``question``, fully, partly or not at all.

    Args:
        newest: (iso date, as written) of the newest source, for questions
            about events after it.
        match: ``question_match`` of the evidence (None: not measured), abstaining
            below ``match_threshold``; the closest sentence is quoted.
        unmatched: the question's nouns no retrieved passage mentions; with them,
            ``match`` must reach ``unmatched_threshold`` (when given) and naming the kind
            asked spares nothing. The abstention blames those words only when they decide
            it: an answer below ``match_threshold`` anyway gets the plain message.
    """
    if not question or not evidence or evidence[0].score < threshold:
        return Abstention(True, "low_relevance", NOT_COVERED + _nearest_documents(chunks))
    unpaired = (unpaired_years(question, chunks, evidence) or years_written_on_names(question, evidence)
                or unpaired_quarters(question, chunks, evidence)
                or unpaired_instances(question, chunks))
    if unpaired is not None:
        return unpaired
    found, missing = missing_entities(question, [c.page_content for c in chunks])
    if missing and not found:
        names = " or ".join(missing)
        return Abstention(True, "not_mentioned", f"The documents do not mention {names}, so I can't answer this from them.",
                          not_covered=missing)
    needed = unmatched_threshold if unmatched and unmatched_threshold is not None else match_threshold
    if match is not None and needed is not None and match < needed:
        spared = states_kind_asked(question, evidence[:MATCH_SENTENCES])
        if unmatched and (spared or match_threshold is None or match >= match_threshold):
            words = " or ".join(f'"{w}"' for w in unmatched)
            return Abstention(True, "words_not_mentioned",
                              f"The documents do not cover this: no passage found mentions {words}.",
                              not_covered=list(unmatched), context_span=0)
        if not spared:
            return Abstention(True, "no_answering_sentence", NOT_COVERED, context_span=0)
    if asks_for_figure(question) and not gives_asked_figure(question, chunks, evidence[:MATCH_SENTENCES]):
        return Abstention(True, "figure_missing", "The documents do not give that figure.", context_span=0)
    if embeddings is not None and role_missing(question, [s.text for s in evidence[:3]], embeddings):
        return Abstention(True, "not_mentioned", NOT_COVERED)
    if newest and asks_about_outcome(question):
        later = [d for d in find_dates(question, default_year=newest[0][:4]) if d.iso > newest[0]]
        if later:
            return Abstention(
                True, "after_sources",
                f"The newest source is dated {newest[1]}; it cannot say what happened on {later[0].text}.",
                context_span=0,
            )
    return Abstention(False, not_covered=missing)
