"""A fresh SQLite conversation store per test, and a realistic saved answer."""

from __future__ import annotations

from typing import Any

import pytest

from assistant.conversations.store import ConversationStore


@pytest.fixture
def store(tmp_path):
    s = ConversationStore(f"sqlite:///{tmp_path / 'conversations.db'}", max_feedback_chars=50)
    yield s
    s.close()


def answer_dict(text: str = "China cut export quotas in 2010 [1].", query: str | None = None) -> dict[str, Any]:
    """The shape of ``Answer.to_dict()``: text with markers, one citation with its exact snippet."""
    return {
        "text": text,
        "citations": [{"id": 1, "source": "000_0fda6ccdd058825b", "title": "Rare earths", "section": "Quotas",
                       "snippet": "China cut its export quotas by 40% in 2010.", "start": 120, "end": 163,
                       "score": 0.82, "date": "2025-04-04", "page": None}],
        "abstained": False,
        "claims": [{"text": text, "citation_ids": [1], "supported": True, "score": 0.9, "kind": "fact"}],
        "conflicts": [],
        "follow_ups": ["Why did China cut the quotas?"],
        "timings": {"total_s": 0.12},
        "metadata": {"generator": "extractive", "query": query or "When did China cut export quotas?"},
    }
