"""Conflicting sources: two documents giving different amounts for the same thing."""

from __future__ import annotations

from dataclasses import dataclass

from assistant.answering.evidence import Span
from assistant.text.quantities import find_amounts, find_entities, owner_of


@dataclass
class FoundConflict:
    topic: str
    owner: str
    first: Span
    first_amount: str
    second: Span
    second_amount: str


def _keyed_amounts(span: Span) -> dict[tuple[str, str], list]:
    entities = find_entities(span.text)
    keyed: dict[tuple[str, str], list] = {}
    for amount in find_amounts(span.text):
        owner = owner_of(amount, entities)
        if owner:
            keyed.setdefault((owner.lower(), amount.kind), []).append((owner, amount))
    return keyed


def find_conflicts(spans: list[Span]) -> list[FoundConflict]:
    """Pairs of spans from different documents whose amounts for one named thing disagree.

    'The DoD ... MP Materials with a multibillion-dollar investment' and
    'a $400 million deal with MP Materials' both attach money to MP Materials,
    and 400 million lies outside the multibillion range: a conflict.
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
                        if amount_a.disagrees_with(amount_b) and key not in seen:
                            seen.add(key)
                            topic = f"the {'amount' if key[1] == 'money' else 'percentage'} for {owner}"
                            found.append(FoundConflict(topic, owner, a, amount_a.text, b, amount_b.text))
    return found
