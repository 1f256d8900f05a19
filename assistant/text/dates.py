"""Find dates written in news prose: '27 Jul 2025', 'July 18, 2025', 'late July 2025'."""

from __future__ import annotations

import re
from dataclasses import dataclass

_MONTHS = {
    m: i
    for i, names in enumerate(
        [
            ("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"),
            ("may",), ("jun", "june"), ("jul", "july"), ("aug", "august"),
            ("sep", "sept", "september"), ("oct", "october"), ("nov", "november"),
            ("dec", "december"),
        ],
        start=1,
    )
    for m in names
}
_MONTH = r"(?P<month>Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|Sept?(?:ember)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?"
_PATTERNS = [
    re.compile(rf"\b(?P<day>\d{{1,2}})\s+{_MONTH}\s+(?P<year>(19|20)\d\d)\b"),
    re.compile(rf"\b{_MONTH}\s+(?P<day>\d{{1,2}}),?\s+(?P<year>(19|20)\d\d)\b"),
    re.compile(rf"\b(?:(?P<qual>early|mid|late)[- ])?{_MONTH}\s+(?P<year>(19|20)\d\d)\b", re.IGNORECASE),
]


@dataclass(frozen=True)
class FoundDate:
    text: str
    iso: str  # YYYY-MM-DD; day 1/15/28 when only early/mid/late month is known
    start: int
    end: int

    def as_dict(self) -> dict:
        return {"text": self.text, "iso": self.iso, "start": self.start, "end": self.end}


_NO_YEAR = [
    re.compile(rf"\b{_MONTH}\s+(?P<day>\d{{1,2}})\b(?!,?\s+\d)"),
    re.compile(rf"\b(?P<day>\d{{1,2}})\s+{_MONTH}\b(?!\s+\d)"),
]


def find_dates(text: str, default_year: str | None = None) -> list[FoundDate]:
    """All dates in ``text``, earliest position first, without overlaps.

    With ``default_year``, dates written without one ("August 12") are found
    too and placed in that year.
    """
    found: list[FoundDate] = []
    taken: list[tuple[int, int]] = []
    patterns = _PATTERNS + (_NO_YEAR if default_year else [])
    for pattern in patterns:
        for m in pattern.finditer(text):
            if any(m.start() < e and s < m.end() for s, e in taken):
                continue
            month = _MONTHS.get(m.group("month").lower().rstrip("."))
            if month is None:
                continue
            groups = m.groupdict()
            if groups.get("day"):
                day = int(groups["day"])
            else:
                day = {"early": 1, "mid": 15, "late": 28}.get((groups.get("qual") or "").lower(), 1)
            if not 1 <= day <= 31:
                continue
            year = groups.get("year") or default_year
            found.append(FoundDate(m.group(0), f"{year}-{month:02d}-{day:02d}", m.start(), m.end()))
            taken.append((m.start(), m.end()))
    return sorted(found, key=lambda d: d.start)


_ORDINALS = {"first": "1", "1st": "1", "second": "2", "2nd": "2", "third": "3", "3rd": "3", "fourth": "4", "4th": "4"}
_QUARTER = re.compile(
    r"\b(?:q([1-4])|([1-4])q(?:\d{2})?|(first|1st|second|2nd|third|3rd|fourth|4th)[\s-]+"
    r"(?:(?:fiscal|financial|calendar)[\s-]+)?quarter"
    r"|h([12]))\b",
    re.IGNORECASE,
)


def quarters(text: str) -> set[str]:
    """Quarters and half-years named in ``text``, as "q1".."q4" and "h1", "h2".

    A closed set of spellings ("Q3", "3Q19", "third quarter", "fourth-quarter", "first fiscal
    quarter", "H1"),
    read by pattern: spaCy labels "Q4" a place. "The first half" is left out: a
    match and a century have one too.
    """
    found = set()
    for q, q_first, q_word, h in _QUARTER.findall(text):
        found.add(f"h{h}" if h else "q" + (q or q_first or _ORDINALS[q_word.lower()]))
    return found


# What a dateline says besides its date: "Published", "Updated 10:21 AM EDT, Sun".
_DATELINE_REST = re.compile(
    r"\b(published|updated|posted|last|on|at|am|pm|[ecmp][sd]t|utc|gmt|"
    r"(mon|tues?|wed(nes)?|thu(rs?)?|fri|sat(ur)?|sun)(day)?)\b\.?|\b[ap]\.m\.|\b\d{1,2}:\d\d\b|[\s,:|•–—-]+",
    re.IGNORECASE,
)


def is_dateline(line: str) -> bool:
    """Whether ``line`` only dates the page ("Published June 12, 2022", "Updated 10:21 AM EDT, Sun
    June 12, 2022"): an article pasted with its dateline on top is neither titled nor opened by it."""
    dates = find_dates(line)
    if not dates:
        return False
    rest = line
    for found in reversed(dates):
        rest = rest[: found.start] + rest[found.end:]
    return not _DATELINE_REST.sub("", rest).strip()
