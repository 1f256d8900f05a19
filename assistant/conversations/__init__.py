"""Saved conversations and feedback: a SQLAlchemy store, its records, exports and gold lines."""

from assistant.conversations.records import ConversationRecord, FeedbackRecord, TurnRecord
from assistant.conversations.store import LOCAL_OWNER, ConversationStore

__all__ = ["LOCAL_OWNER", "ConversationRecord", "ConversationStore", "FeedbackRecord", "TurnRecord"]
