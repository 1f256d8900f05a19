"""Question understanding that needs no model: follow-ups and time words."""

from __future__ import annotations

import re

from assistant.text.words import content_words

_FOLLOW_UP = re.compile(
    r"^(and|but|also|what about|how about|why|so)\b|\b(it|its|they|them|their|this|that|these|those|he|she|there)\b",
    re.IGNORECASE,
)
_LATEST = re.compile(r"\b(now|latest|currently|current|today|recent(ly)?|so far|as of|still)\b", re.IGNORECASE)


def _user_turns(history: list) -> list[str]:
    """Accept [{'role','content'}] messages or [(user, assistant)] pairs."""
    turns = []
    for item in history:
        if isinstance(item, dict):
            if item.get("role") == "user" and isinstance(item.get("content"), str):
                turns.append(item["content"])
        elif isinstance(item, (list, tuple)) and item and isinstance(item[0], str):
            turns.append(item[0])
    return turns


def condense_question(question: str, history: list) -> str:
    """A standalone retrieval query for a follow-up like 'And what is Japan doing?'.

    The last user question's content words are added when the new question
    leans on it (a pronoun, a leading 'and'/'what about', or very few content
    words of its own); a self-contained question is left alone.
    """
    turns = _user_turns(history)
    if not turns:
        return question
    own = content_words(question)
    if not _FOLLOW_UP.search(question) and len(own) > 3:
        return question
    previous = turns[-1]
    return f"{question} (context: {previous})"


def wants_latest(question: str) -> bool:
    return bool(_LATEST.search(question))
