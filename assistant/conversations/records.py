"""What the conversation store hands out: typed, JSON-ready records, and the input checks.

The checks live here, not in the web layer, so the Python API, the CLI and
every HTTP route refuse the same bad input with the same message (naming
the field) before anything is written.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from assistant.errors import InputError, NotFoundError

#: The owner of conversations made through the Python API and the CLI (one local user). Here, not
#: in the store, so answering a question without a conversation never imports SQLAlchemy.
LOCAL_OWNER = "local"
RATINGS = ("up", "down")
TITLE_CHARS = 200
MAX_FACTS = 20
MAX_SOURCES = 20
_ID = re.compile(r"^[0-9a-f]{32}$")


@dataclass
class FeedbackRecord:
    """A rating of one turn, with the user's comment and correction."""

    id: str
    turn_id: str
    rating: str
    comment: str | None
    correction: str | None
    facts: list[str] | None
    sources: list[str] | None
    created_at: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class TurnRecord:
    """One question and the verified answer it got (``answer`` is ``Answer.to_dict()``)."""

    id: str
    conversation_id: str
    position: int
    question: str
    answer: dict[str, Any]
    abstained: bool
    generator: str
    settings: dict[str, Any]
    created_at: str
    feedback: FeedbackRecord | None = None  # the latest, when the turn was rated

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["feedback"] = self.feedback.to_dict() if self.feedback else None
        return out


@dataclass
class ConversationRecord:
    """A conversation; ``turns`` is empty in listings and filled by ``get``."""

    id: str
    title: str
    created_at: str
    updated_at: str
    turn_count: int = 0
    turns: list[TurnRecord] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in asdict(self).items() if k != "turns"}
        out["turns"] = [t.to_dict() for t in self.turns]
        return out

    def history(self) -> list[dict[str, str]]:
        """The turns as ``{"role", "content"}`` pairs, oldest first (what follow-ups condense with)."""
        out: list[dict[str, str]] = []
        for turn in self.turns:
            out.append({"role": "user", "content": turn.question})
            out.append({"role": "assistant", "content": str(turn.answer.get("text", ""))})
        return out


def check_id(value: object, field_name: str) -> str:
    """``value`` if it has the shape of our ids (32 lowercase hex digits), else an ``InputError``."""
    if not isinstance(value, str) or not _ID.match(value):
        raise InputError(
            f"{field_name} must be an id of 32 hex digits as returned by the API, got {str(value)[:80]!r}.",
            field=field_name,
        )
    return value


def not_found(kind: str, field_name: str, value: str) -> NotFoundError:
    return NotFoundError(
        f"No {kind} {value!r}: it does not exist, was deleted, or belongs to someone else. "
        "List yours with GET /api/conversations (or `assistant conversations`).",
        field=field_name,
    )


def check_title(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InputError("title must be non-empty text.", field="title")
    title = " ".join(value.split())
    if len(title) > TITLE_CHARS:
        raise InputError(f"title is {len(title)} characters; keep it to {TITLE_CHARS}.", field="title")
    return title


def check_rating(value: object) -> str:
    if value not in RATINGS:
        raise InputError(f"rating must be 'up' or 'down', got {str(value)[:40]!r}.", field="rating")
    return str(value)


def check_text(value: object, field_name: str, limit: int) -> str | None:
    """Optional free text: None or blank is None; too long is refused, never cut."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InputError(f"{field_name} must be text, got {type(value).__name__}.", field=field_name)
    text = value.strip()
    if len(text) > limit:
        raise InputError(
            f"{field_name} is {len(text)} characters; the limit is {limit} (ASSISTANT_MAX_FEEDBACK_CHARS).",
            field=field_name,
        )
    return text or None


def check_list(value: object, field_name: str, limit: int, item_chars: int) -> list[str] | None:
    """Optional list of short strings (facts, source ids): None or empty is None."""
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InputError(f"{field_name} must be a list of strings.", field=field_name)
    items = [" ".join(v.split()) for v in value if v.strip()]
    if len(items) > limit:
        raise InputError(f"{field_name} has {len(items)} items; at most {limit}.", field=field_name)
    for item in items:
        if len(item) > item_chars:
            raise InputError(f"an item of {field_name} is {len(item)} characters; at most {item_chars}.", field=field_name)
    return items or None
