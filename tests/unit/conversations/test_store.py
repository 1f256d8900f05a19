"""The conversation store: CRUD, ownership, input checks, concurrent turns, feedback and counts."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import func, select

from assistant.conversations import schema
from assistant.conversations import store as store_module
from assistant.conversations.store import ConversationStore
from assistant.errors import InputError, NotFoundError
from tests.unit.conversations.conftest import answer_dict

OTHER = "browser:someone-else"


def test_create_list_get_rename_delete(store):
    first = store.create()
    second = store.create(title="  Magnets   and mines ")
    assert second.title == "Magnets and mines" and first.title == ""
    store.add_turn(first.id, "When did China cut export quotas?", answer_dict())
    listed = store.list()
    assert [c.id for c in listed] == [first.id, second.id]  # most recently used first
    assert listed[0].turn_count == 1 and listed[0].title == "When did China cut export quotas?"
    got = store.get(first.id)
    assert [t.question for t in got.turns] == ["When did China cut export quotas?"]
    assert got.turns[0].answer == answer_dict() and got.turns[0].generator == "extractive"
    assert store.rename(first.id, "Quotas").title == "Quotas"
    store.delete(second.id)
    assert [c.id for c in store.list()] == [first.id]
    with pytest.raises(NotFoundError):
        store.get(second.id)


def test_turns_survive_a_new_store_on_the_same_file(store):
    chat = store.create()
    store.add_turn(chat.id, "Who mines rare earths?", answer_dict("China mines most [1]."))
    again = ConversationStore(store.url)
    try:
        assert again.get(chat.id).history() == [
            {"role": "user", "content": "Who mines rare earths?"},
            {"role": "assistant", "content": "China mines most [1]."},
        ]
    finally:
        again.close()


def test_another_owner_sees_nothing(store):
    chat = store.create()
    turn = store.add_turn(chat.id, "q?", answer_dict())
    assert store.list(OTHER) == []
    for call in (
        lambda: store.get(chat.id, OTHER),
        lambda: store.rename(chat.id, "mine now", OTHER),
        lambda: store.delete(chat.id, OTHER),
        lambda: store.check_owned(chat.id, OTHER),
        lambda: store.add_turn(chat.id, "q2?", answer_dict(), OTHER),
        lambda: store.get_turn(turn.id, OTHER),
        lambda: store.add_feedback(turn.id, "down", OTHER),
    ):
        with pytest.raises(NotFoundError) as err:
            call()
        assert err.value.field in ("conversation_id", "turn_id")
        assert "belongs to someone else" in str(err.value)
    # Nothing changed for the owner.
    assert store.get(chat.id).turn_count == 1 and store.get(chat.id).title == "q?"
    assert store.get_turn(turn.id).feedback is None


@pytest.mark.parametrize("bad", ["", "abc", "0" * 31, "G" * 32, "../" * 11, None, 42])
def test_malformed_ids_are_input_errors_naming_the_field(store, bad):
    with pytest.raises(InputError) as err:
        store.get(bad)
    assert err.value.field == "conversation_id" and not isinstance(err.value, NotFoundError)
    with pytest.raises(InputError) as err:
        store.add_feedback(bad, "up")
    assert err.value.field == "turn_id" and not isinstance(err.value, NotFoundError)


def test_unknown_well_formed_ids_are_not_found(store):
    with pytest.raises(NotFoundError) as err:
        store.get("0" * 32)
    assert err.value.field == "conversation_id" and err.value.status_code == 404
    with pytest.raises(NotFoundError):
        store.get_turn("f" * 32)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"rating": "meh"}, "rating"),
        ({"rating": None}, "rating"),
        ({"rating": "down", "comment": "x" * 51}, "comment"),
        ({"rating": "down", "correction": "y" * 51}, "correction"),
        ({"rating": "down", "comment": 5}, "comment"),
        ({"rating": "up", "correction": "The quota was cut in 2010."}, "correction"),
        ({"rating": "up", "facts": ["2010"]}, "facts"),
        ({"rating": "down", "facts": "2010"}, "facts"),
        ({"rating": "down", "facts": [f"fact {i}" for i in range(21)]}, "facts"),
        ({"rating": "down", "sources": ["d" * 201]}, "sources"),
    ],
)
def test_bad_feedback_names_the_field_and_stores_nothing(store, kwargs, field):
    chat = store.create()
    turn = store.add_turn(chat.id, "q?", answer_dict())
    with pytest.raises(InputError) as err:
        store.add_feedback(turn.id, **kwargs)
    assert err.value.field == field
    if field in ("comment", "correction") and len(str(kwargs[field])) > 50:
        assert "the limit is 50" in str(err.value)
    assert store.get_turn(turn.id).feedback is None and store.rated_turns() == []


def test_feedback_text_at_the_limit_is_kept_whole(store):
    chat = store.create()
    turn = store.add_turn(chat.id, "q?", answer_dict())
    fb = store.add_feedback(turn.id, "down", comment="  " + "c" * 50 + "  ", correction="r" * 50,
                            facts=[" 2010 ", ""], sources=["000_0fda6ccdd058825b"])
    assert fb.comment == "c" * 50 and fb.correction == "r" * 50 and fb.facts == ["2010"]
    assert store.get_turn(turn.id).feedback == fb


def test_two_threads_writing_into_one_conversation_get_distinct_ordered_positions(store):
    chat = store.create()
    per_thread = 15
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def write(name: str) -> None:
        try:
            start.wait()
            for i in range(per_thread):
                store.add_turn(chat.id, f"{name} {i}", answer_dict())
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(name,)) for name in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    turns = store.get(chat.id).turns
    assert [t.position for t in turns] == list(range(2 * per_thread))
    for name in ("a", "b"):  # each writer's turns keep the order it wrote them in
        assert [t.question for t in turns if t.question.startswith(name)] == [f"{name} {i}" for i in range(per_thread)]


def test_a_reader_does_not_wait_for_a_writer(store):
    """WAL readers take a snapshot; a list or get must not queue behind a write transaction."""
    chat = store.create()
    holding, release = threading.Event(), threading.Event()

    def hold_the_write_lock() -> None:
        with store.engine.begin() as conn:
            conn.execute(schema.conversations.update().values(title="busy"))
            holding.set()
            release.wait(10)

    writer = threading.Thread(target=hold_the_write_lock)
    writer.start()
    try:
        assert holding.wait(10)
        t0 = time.perf_counter()
        assert [c.id for c in store.list()] == [chat.id]
        assert store.get(chat.id).title == ""  # the committed state, not the writer's
        assert time.perf_counter() - t0 < 1.0
    finally:
        release.set()
        writer.join()


def test_latest_feedback_wins(store):
    chat = store.create()
    turn = store.add_turn(chat.id, "q?", answer_dict())
    store.add_feedback(turn.id, "up", comment="good")
    store.add_feedback(turn.id, "down", correction="The quota was cut in 2010.", facts=["2010"])
    assert store.get_turn(turn.id).feedback.rating == "down"
    assert store.get(chat.id).turns[0].feedback.correction == "The quota was cut in 2010."
    pairs = store.rated_turns()
    assert len(pairs) == 1 and pairs[0][1].rating == "down"
    assert store.rated_turns("up") == []
    counts = store.feedback_counts()
    assert (counts["up"], counts["down"], counts["down_with_correction"]) == (0, 1, 1)


def test_feedback_counts_per_iso_week(store, monkeypatch):
    chat = store.create()
    turns = [store.add_turn(chat.id, f"q{i}?", answer_dict()) for i in range(4)]
    stamps = iter([
        "2024-12-30T10:00:00.000000+00:00",  # a Monday: ISO week 1 of 2025
        "2025-01-05T23:59:00.000000+00:00",  # the Sunday of that week
        "2025-01-06T00:01:00.000000+00:00",  # week 2
        "2025-01-07T09:00:00.000000+00:00",
    ])
    monkeypatch.setattr(store_module, "_now", lambda: next(stamps))
    store.add_feedback(turns[0].id, "up")
    store.add_feedback(turns[1].id, "down", correction="fixed")
    store.add_feedback(turns[2].id, "down")
    store.add_feedback(turns[3].id, "up")
    assert store.feedback_counts() == {
        "up": 2, "down": 2, "down_with_correction": 1,
        "weeks": {"2025-W01": {"up": 1, "down": 1}, "2025-W02": {"up": 1, "down": 1}},
    }


def test_feedback_counts_of_an_empty_store_are_zero(store):
    assert store.feedback_counts() == {"up": 0, "down": 0, "down_with_correction": 0, "weeks": {}}


def test_delete_removes_turns_and_feedback(store):
    chat, kept = store.create(), store.create()
    turn = store.add_turn(chat.id, "q?", answer_dict())
    other = store.add_turn(kept.id, "other?", answer_dict())
    store.add_feedback(turn.id, "down", correction="right answer")
    store.add_feedback(other.id, "up")
    store.delete(chat.id)
    with pytest.raises(NotFoundError):
        store.get_turn(turn.id)
    assert [t.id for t, _ in store.rated_turns()] == [other.id]
    with store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(schema.turns)).scalar_one() == 1
        assert conn.execute(select(func.count()).select_from(schema.feedback)).scalar_one() == 1
    with pytest.raises(NotFoundError):
        store.delete(chat.id)  # twice: gone


@pytest.mark.parametrize(("title", "field"), [("", "title"), ("   ", "title"), ("t" * 201, "title"), (7, "title")])
def test_bad_titles_name_the_field(store, title, field):
    chat = store.create()
    with pytest.raises(InputError) as err:
        store.rename(chat.id, title)
    assert err.value.field == field
    assert store.get(chat.id).title == ""
