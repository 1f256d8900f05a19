"""Saved conversations and feedback: a SQLAlchemy store, its records, exports and gold lines."""

from typing import Any

from assistant.conversations.records import (
    LOCAL_OWNER,
    ConversationRecord,
    FeedbackRecord,
    TurnRecord,
)

__all__ = ["LOCAL_OWNER", "ConversationRecord", "ConversationStore", "FeedbackRecord", "TurnRecord"]


def __getattr__(name: str) -> Any:
    # The store is imported when first asked for: it brings SQLAlchemy, which answering
    # a question outside a conversation never needs (half a second of a cold start).
    if name == "ConversationStore":
        from assistant.conversations.store import ConversationStore

        return ConversationStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
