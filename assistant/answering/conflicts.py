"""Finish stage: conflicting sources, two documents giving different amounts for the same thing.

``find_conflicts`` finds the disagreements among every retrieved sentence;
``note_conflicts`` keeps those that bear on the question and writes a note
citing both sides, which the answer carries as a claim of kind "conflict".
"""

from __future__ import annotations

from dataclasses import dataclass

from assistant.answering.claims import DraftClaim
from assistant.answering.evidence import Span
from assistant.answering.evidence_coverage import asks_about_amount
from assistant.text.dates import find_dates, quarters
from assistant.text.language import parse, read
from assistant.text.quantities import Amount, find_amounts, find_entities, owner_of
from assistant.text.words import content_words

CONFLICT_NOTE_PREFIX = "The sources differ on "


@dataclass
class FoundConflict:
    """Two spans of different documents whose amounts for ``owner`` disagree."""

    topic: str
    owner: str
    first: Span
    first_amount: str
    second: Span
    second_amount: str


def _keyed_amounts(span: Span) -> dict[tuple[str, str], list]:
    amounts = find_amounts(span.text)
    # A name inside an amount is its currency ("US" of "US$9.6 billion"), not what it is about.
    entities = [e for e in find_entities(span.text)
                if not any(a.start <= e[1] < a.end for a in amounts)]
    keyed: dict[tuple[str, str], list] = {}
    for amount in amounts:
        owner = owner_of(amount, entities)
        if owner:
            keyed.setdefault((owner.lower(), amount.kind), []).append((owner, amount))
    return keyed


def find_conflicts(spans: list[Span]) -> list[FoundConflict]:
    """Pairs of spans from different documents whose amounts for one named thing disagree.

    'The DoD ... MP Materials with a multibillion-dollar investment' and
    'a $400 million deal with MP Materials' both attach money to MP Materials,
    and 400 million lies outside the multibillion range: a conflict. Amounts
    of different periods are not: "$412 million for the second quarter of
    2019" and "$455 million in the fourth quarter" are two quarters' revenue.
    """
    found: list[FoundConflict] = []
    seen: set[tuple[str, str]] = set()
    keyed = [(span, _keyed_amounts(span)) for span in spans]
    for i, (a, ka) in enumerate(keyed):
        for b, kb in keyed[i + 1 :]:
            if a.doc_id == b.doc_id:
                continue
            for key in ka.keys() & kb.keys():
                for owner, amount_a in ka[key]:
                    for _, amount_b in kb[key]:
                        if (amount_a.disagrees_with(amount_b) and key not in seen and not _other_periods(a, b)
                                and _share_of(a.text, amount_a) == _share_of(b.text, amount_b)
                                and not _names_a_period(owner, a.text) and not _names_a_period(owner, b.text)):
                            seen.add(key)
                            topic = f"the {'amount' if key[1] == 'money' else 'percentage'} for {owner}"
                            found.append(FoundConflict(topic, owner, a, amount_a.text, b, amount_b.text))
    return found


def _share_of(text: str, amount: Amount) -> str | None:
    """What the amount is a part of, when it says ("80% of US metro areas" -> "area", "$5 billion
    of debt" -> "debt"; spaCy's parse), else None. Two amounts near one name measure the same
    thing only if both are parts of the same thing or neither says: "US consumer prices jumping
    by 9.1%" and "80% of US metro areas seeing ... price increases" do not disagree. Parsed only
    for amounts that already disagree, so ranking stays cheap."""
    for token in parse(text):
        if not amount.start <= token.idx < amount.end:
            continue
        for prep in token.children:
            if prep.dep_ == "prep" and prep.lower_ == "of":
                whole = next((c for c in prep.children if c.dep_ == "pobj"), None)
                if whole is not None:
                    return whole.lemma_.lower()
    return None


def _names_a_period(owner: str, text: str) -> bool:
    """Whether the capitalised word taken for the amount's owner is part of a date ("since May
    1979", "from May to June": spaCy's DATE and TIME entities): amounts for a month are two
    periods' figures, not two claims about one thing."""
    words = set(owner.lower().split())
    return any(e.label in ("DATE", "TIME") and words <= e.words for e in read(text).entities)


def _other_periods(a: Span, b: Span) -> bool:
    """Whether the two sentences name different years, quarters or months (spaCy DATEs; patterns)."""
    years_a, years_b = read(a.text).years(), read(b.text).years()
    if years_a and years_b and not years_a & years_b:
        return True
    quarters_a, quarters_b = quarters(a.text), quarters(b.text)
    if quarters_a and quarters_b and not quarters_a & quarters_b:
        return True
    # Dated to different months ("In April 2007, Apple reported second quarter revenue of $5.2
    # billion", "On October 22, 2007, Apple reported quarterly revenue of $6.22 billion").
    months_a = {d.iso[:7] for d in find_dates(a.text)}
    months_b = {d.iso[:7] for d in find_dates(b.text)}
    return bool(months_a and months_b and not months_a & months_b)


@dataclass
class NotedConflict:
    """A disagreement worth saying: the note to add to the answer and the evidence of both sides."""

    topic: str
    note: DraftClaim  # cites both sides
    first: int  # evidence index of one side
    second: int  # evidence index of the other


def note_conflicts(question: str, spans: list[Span], evidence: list[Span]) -> tuple[list[Span], list[NotedConflict]]:
    """The disagreements that bear on the question, each with a note citing both sides.

    Any retrieved sentence may disagree with the evidence (the shared name
    and kind of amount tie them together), but a disagreement is only worth
    saying when the question names its subject or the top evidence states it.

    Returns:
        (the evidence, extended by the sides it lacked; the noted conflicts,
        whose indexes point into that extended evidence).
    """
    if not evidence:
        return evidence, []
    cited = list(evidence)
    question_words = set(content_words(question))
    noted: list[NotedConflict] = []
    for found in find_conflicts(spans):
        # The question names the thing and asks about an amount, or the top evidence states it.
        about_question = set(content_words(found.owner)) <= question_words and asks_about_amount(question)
        if not about_question and evidence[0] not in (found.first, found.second):
            continue
        ids = []
        for span in (found.first, found.second):
            if span not in cited:
                cited.append(span)
            ids.append(cited.index(span))
        text = (f"{CONFLICT_NOTE_PREFIX}{found.topic}: one says “{found.first_amount}”, "
                f"the other “{found.second_amount}”")
        noted.append(NotedConflict(found.topic, DraftClaim(text, ids, kind="conflict"), ids[0], ids[1]))
    return cited, noted
