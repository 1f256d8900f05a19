"""Conversations are user data: an index rebuild (new chunking or encoder) must not take them."""

from __future__ import annotations

from tests.conftest import SEEDS


def test_conversations_survive_a_rebuild_of_the_index(make_assistant):
    first = make_assistant()
    first.ingest([SEEDS])
    chat = first.conversations.create()
    answer = first.ask("What did China do to rare earth exports?", conversation_id=chat.id)
    first.conversations.add_feedback(answer.metadata["turn_id"], "down", correction="It set quotas.")

    # Other chunk settings rebuild the index from scratch in the same folder.
    rebuilt = make_assistant(chunk_tokens=96, chunk_overlap=16)
    report = rebuilt.ingest([SEEDS])
    assert len(report.added) == 2

    kept = rebuilt.conversations.get(chat.id)
    assert [t.question for t in kept.turns] == ["What did China do to rare earth exports?"]
    assert kept.turns[0].feedback is not None and kept.turns[0].feedback.correction == "It set quotas."
