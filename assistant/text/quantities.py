"""Amounts written in news prose, and the named things they belong to."""

from __future__ import annotations

import re
from dataclasses import dataclass

_SCALE = {"thousand": 1e3, "k": 1e3, "million": 1e6, "m": 1e6, "mn": 1e6, "billion": 1e9, "bn": 1e9, "b": 1e9,
          "trillion": 1e12, "tn": 1e12}
_MONEY = re.compile(
    r"(?P<cur>US\$|\$|€|£|¥)\s?(?P<num>\d[\d,]*(?:\.\d+)?)\s*(?P<scale>thousand|million|billion|trillion|bn|mn|tn|[kmb])?\b"
    r"|\b(?P<num2>\d[\d,]*(?:\.\d+)?)\s*(?P<scale2>million|billion|trillion)\s+(?:dollars|euros|pounds|yuan)"
    r"|\b(?P<qual>multi-?(?:billion|million)|billion|million)-dollar\b",
    re.IGNORECASE,
)
_PERCENT = re.compile(r"\b(?P<num>\d[\d,]*(?:\.\d+)?)\s?(?:%|per ?cent\b)", re.IGNORECASE)
_ENTITY = re.compile(r"\b[A-Z][\w&.\-]*(?:\s+(?:of\s+|&\s+)?[A-Z][\w&.\-]*)*")
_NOT_ENTITY = {
    "The", "A", "An", "In", "On", "As", "At", "By", "For", "Since", "Meanwhile", "Together", "This", "These",
    "That", "Those", "It", "Its", "Recent", "Expect", "Below", "With", "From", "After", "Before", "While",
    "What", "How", "Why", "When", "Who", "Which", "Where", "Is", "Are", "Did", "Does", "Do", "Can", "And", "But",
}


@dataclass(frozen=True)
class Amount:
    kind: str  # money | percent
    low: float
    high: float
    text: str
    start: int
    end: int

    def disagrees_with(self, other: Amount, tolerance: float = 0.15) -> bool:
        if self.kind != other.kind:
            return False
        return self.high < other.low * (1 - tolerance) or other.high < self.low * (1 - tolerance)


def find_amounts(text: str) -> list[Amount]:
    """Money and percentages with their value ranges ('multibillion-dollar' = 2bn..100bn)."""
    out: list[Amount] = []
    for m in _MONEY.finditer(text):
        if m.group("qual"):
            qual = m.group("qual").lower().replace("-", "")
            low, high = {
                "multibillion": (2e9, 1e11), "billion": (1e9, 1e10),
                "multimillion": (2e6, 1e9), "million": (1e6, 1e7),
            }[qual]
        else:
            num = float((m.group("num") or m.group("num2")).replace(",", ""))
            scale = _SCALE.get((m.group("scale") or m.group("scale2") or "").lower(), 1.0)
            low = high = num * scale
        out.append(Amount("money", low, high, m.group(0).strip(), m.start(), m.end()))
    for m in _PERCENT.finditer(text):
        value = float(m.group("num").replace(",", ""))
        out.append(Amount("percent", value, value, m.group(0), m.start(), m.end()))
    return out


def find_entities(text: str) -> list[tuple[str, int, int]]:
    """Capitalised name phrases ('MP Materials', 'US Department of Defense') with offsets."""
    out = []
    for m in _ENTITY.finditer(text):
        phrase = m.group(0)
        start = m.start()
        words = phrase.split()
        while words and words[0] in _NOT_ENTITY:
            start += len(words[0]) + 1
            words = words[1:]
        if not words:
            continue
        sentence_start = start == 0 or re.search(r"[.!?]\s*$", text[:start]) is not None
        if sentence_start and len(words) == 1 and not words[0].isupper():
            continue  # "Efforts include ...": capitalised only because it starts the sentence
        name = " ".join(words)
        name = re.split(r"[’']s?\b", name)[0].strip()  # "Apple's deal" -> "Apple"
        if len(name) >= 2:
            out.append((name, start, start + len(name)))
    return out


def owner_of(amount: Amount, entities: list[tuple[str, int, int]], window: int = 60) -> str | None:
    """The name nearest the amount within ``window`` characters, preferring one just before it."""
    best, best_dist = None, window + 1
    for name, s, e in entities:
        if e <= amount.start:
            dist = amount.start - e
        elif s >= amount.end:
            dist = (s - amount.end) + 5  # a name after the amount binds a little less
        else:
            continue
        if dist < best_dist:
            best, best_dist = name, dist
    return best


def has_quantity(text: str) -> bool:
    """A figure other than a bare year: money, percent, or a number with a unit."""
    if find_amounts(text):
        return True
    for m in re.finditer(r"\b\d[\d,]*(?:\.\d+)?\b", text):
        value = m.group(0).replace(",", "")
        if re.fullmatch(r"(19|20)\d\d", value):
            continue
        if re.match(r"\s*(st|nd|rd|th)\b", text[m.end() :]):
            continue
        return True
    return False
