"""What part of a question the evidence covers: named things and asked-for figures."""

from __future__ import annotations

import re

from .quantities import find_entities, has_quantity
from .textutils import content_words

_ASKS_FIGURE = re.compile(
    r"\bhow (much|many)\b"
    r"|\b(exact|actual|precise|official|specific)\b[\w\s-]{0,40}\b(figures?|numbers?|amounts?|totals?|volumes?|tonnage|quotas?)\b"
    r"|\bwhat (was|were|is|are) the\b[\w\s-]{0,40}\b(figures?|numbers?|amounts?|totals?|volumes?)\b",
    re.IGNORECASE,
)
_MONTHS_AND_DAYS = re.compile(
    r"^(jan(uary)?|feb(ruary)?|mar(ch)?|apr(il)?|may|june?|july?|aug(ust)?|sep(t(ember)?)?|oct(ober)?|"
    r"nov(ember)?|dec(ember)?|monday|tuesday|wednesday|thursday|friday|saturday|sunday)$",
    re.IGNORECASE,
)


def question_entities(question: str) -> list[str]:
    """Named things the question asks about ('Japan', 'MP Materials'), without question words."""
    names = []
    for name, _, _ in find_entities(question):
        if _MONTHS_AND_DAYS.match(name):
            continue
        if name.isupper() and len(name) <= 2:
            continue  # "US", "EU": too short to check by spelling alone
        if name not in names:
            names.append(name)
    return names


def mentioned(name: str, texts: list[str]) -> bool:
    """Whether every word of ``name`` (stemmed) occurs together in one of ``texts``."""
    words = set(content_words(name))
    if not words:
        return True
    return any(words <= set(content_words(t)) for t in texts)


def missing_entities(question: str, texts: list[str]) -> tuple[list[str], list[str]]:
    """(named things the texts mention, named things they do not)."""
    found, missing = [], []
    for name in question_entities(question):
        (found if mentioned(name, texts) else missing).append(name)
    return found, missing


def asks_for_figure(question: str) -> bool:
    return bool(_ASKS_FIGURE.search(question))


def gives_figure(texts: list[str]) -> bool:
    return any(has_quantity(t) for t in texts)
