"""The conversation tables, in SQLAlchemy Core so SQLite and PostgreSQL share one definition.

A turn keeps the whole verified ``Answer`` as JSON (what every surface shows
and what an export needs) next to the columns queries filter on. Positions
are unique per conversation: two clients writing into one conversation at
once cannot both take the same place, and a reader orders by position.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

conversations = Table(
    "conversations",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("owner", String(128), nullable=False),
    Column("title", String(200), nullable=False),
    Column("created_at", String(32), nullable=False),  # ISO 8601 UTC: sorts as text on every backend
    Column("updated_at", String(32), nullable=False),
    Index("ix_conversations_owner_updated", "owner", "updated_at"),
)

turns = Table(
    "turns",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("conversation_id", String(32), ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False),
    Column("position", Integer, nullable=False),
    Column("question", Text, nullable=False),
    Column("answer", Text, nullable=False),  # Answer.to_dict() as JSON
    Column("abstained", Boolean, nullable=False),
    Column("generator", String(32), nullable=False),
    Column("settings", Text, nullable=False),  # the settings that shaped the answer, JSON
    Column("created_at", String(32), nullable=False),
    UniqueConstraint("conversation_id", "position", name="uq_turns_position"),
)

feedback = Table(
    "feedback",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("turn_id", String(32), ForeignKey("turns.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("rating", String(8), nullable=False),
    Column("comment", Text),
    Column("correction", Text),
    Column("facts", Text),  # JSON list of strings, or NULL
    Column("sources", Text),  # JSON list of document ids, or NULL
    Column("created_at", String(32), nullable=False),
)
