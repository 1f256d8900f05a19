"""Saved conversations under faults, concurrency and bad input.

- kill -9 of a real process appending turns through ``ConversationStore``: the
  SQLite file opens cleanly and every committed turn is there, in order;
- 22 threads writing turns at once (20 into their own conversations, 2 through
  two more stores into one shared conversation) while two others read: every turn
  kept at its own position, positions contiguous, no errors;
- bad input over HTTP: a 4xx naming the field, and nothing stored.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from assistant.conversations import ConversationStore
from assistant.web.app import create_app
from tests.conftest import ROOT
from tests.reliability.conftest import record, subprocess_env

QUESTION = "How is China enforcing its rare earth export restrictions?"
KILL_ROUNDS = 3
N_OWN_THREADS = 20
TURNS_PER_THREAD = 10
SHARED_TURNS_PER_THREAD = 25

# Appends turns to one conversation for ever, printing each position once its turn is committed.
_WRITER = """
import sys
from assistant.conversations import ConversationStore
store = ConversationStore(sys.argv[1])
cid = sys.argv[2]
position = len(store.get(cid).turns)
print("ready", flush=True)
while True:
    turn = store.add_turn(cid, f"question {position}", {"text": "x" * 2000, "metadata": {"generator": "extractive"}})
    assert turn.position == position, (turn.position, position)
    print(position, flush=True)
    position += 1
"""


def _sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def _turn_rows(db: Path, cid: str) -> list[tuple[int, str]]:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return conn.execute(
            "SELECT position, question FROM turns WHERE conversation_id = ? ORDER BY position", (cid,)
        ).fetchall()


@pytest.mark.integration
def test_kill_9_while_writing_turns_loses_at_most_the_turn_being_written(tmp_path):
    db = tmp_path / "conversations.db"
    store = ConversationStore(_sqlite_url(db))
    cid = store.create(title="Written while killed").id
    store.close()
    rounds = []
    for round_no in range(KILL_ROUNDS):
        writer = subprocess.Popen(
            [sys.executable, "-c", _WRITER, _sqlite_url(db), cid],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=subprocess_env(tmp_path / "index"), cwd=ROOT,
        )
        try:
            assert writer.stdout is not None
            assert writer.stdout.readline().strip() == "ready", writer.stderr.read() if writer.stderr else ""
            time.sleep(0.3 + 0.4 * round_no)  # let it write, then kill at a point it did not choose
            os.kill(writer.pid, signal.SIGKILL)
            out, err = writer.communicate(timeout=30)
        finally:
            if writer.poll() is None:
                writer.kill()
        assert writer.returncode == -signal.SIGKILL, err[-2000:]
        confirmed = [int(line) for line in out.split()]
        assert confirmed, f"the writer committed nothing before the kill: {err[-2000:]}"

        with contextlib.closing(sqlite3.connect(db)) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = _turn_rows(db, cid)
        positions = [p for p, _ in rows]
        assert positions == list(range(len(rows))), "positions have a gap or a duplicate"
        assert all(q == f"question {p}" for p, q in rows)
        # Every turn it reported is there; at most one more (committed, killed before it said so).
        assert confirmed[-1] + 1 <= len(rows) <= confirmed[-1] + 2
        rounds.append({"round": round_no, "turns_reported_this_round": len(confirmed), "turns_in_db": len(rows)})

    reopened = ConversationStore(_sqlite_url(db))
    try:  # the store itself reads the file back after three crashes
        turns = reopened.get(cid).turns
        assert [t.position for t in turns] == list(range(len(turns)))
    finally:
        reopened.close()
    record("crash_safe_conversations", "kill -9 while writing turns (SQLite, WAL)", rounds=rounds,
           integrity_check="ok", turns_kept=len(turns), reported_turns_lost=0)


def _write_turns(store: ConversationStore, cid: str, label: str, n: int, errors: list[str]) -> None:
    for i in range(n):
        try:
            store.add_turn(cid, f"{label} {i}", {"text": f"answer {label} {i}", "metadata": {"generator": "extractive"}})
        except Exception as exc:  # every failure is a finding, reported below
            errors.append(f"{label} {i}: {type(exc).__name__}: {exc}")


def _read_while_writing(store: ConversationStore, cids: list[str], stop: threading.Event, errors: list[str]) -> None:
    reads = 0
    while not stop.is_set():
        try:
            store.list()
            store.get(cids[reads % len(cids)])
            reads += 1
        except Exception as exc:
            errors.append(f"read: {type(exc).__name__}: {exc}")
            return


def test_many_threads_writing_turns_keep_every_turn_at_its_own_position(tmp_path):
    url = _sqlite_url(tmp_path / "conversations.db")
    store = ConversationStore(url)
    # Two more stores, two engines and pools, on the same file: as two server processes would be.
    shared_stores = [ConversationStore(url), ConversationStore(url)]
    own = [store.create(title=f"thread {i}").id for i in range(N_OWN_THREADS)]
    shared = store.create(title="shared").id
    errors: list[str] = []
    stop = threading.Event()
    writers = [
        threading.Thread(target=_write_turns, args=(store, cid, f"own{i}", TURNS_PER_THREAD, errors))
        for i, cid in enumerate(own)
    ] + [
        threading.Thread(target=_write_turns, args=(s, shared, f"shared{i}", SHARED_TURNS_PER_THREAD, errors))
        for i, s in enumerate(shared_stores)
    ]
    readers = [threading.Thread(target=_read_while_writing, args=(store, [shared, *own], stop, errors))
               for _ in range(2)]
    started = time.monotonic()
    try:
        for t in readers + writers:
            t.start()
        for t in writers:
            t.join(timeout=60)
        stop.set()
        for t in readers:
            t.join(timeout=30)
        elapsed = round(time.monotonic() - started, 2)
        assert not any(t.is_alive() for t in writers + readers), "a thread hung"
        assert errors == []
        for i, cid in enumerate(own):
            turns = store.get(cid).turns
            assert [(t.position, t.question) for t in turns] == [(p, f"own{i} {p}") for p in range(TURNS_PER_THREAD)]
        turns = store.get(shared).turns
        assert [t.position for t in turns] == list(range(2 * SHARED_TURNS_PER_THREAD))
        for i in range(2):  # each writer's turns kept, in the order it wrote them
            mine = [t.question for t in turns if t.question.startswith(f"shared{i} ")]
            assert mine == [f"shared{i} {n}" for n in range(SHARED_TURNS_PER_THREAD)]
    finally:
        for s in (store, *shared_stores):
            s.close()
    record("concurrency", "conversation turns written by 22 threads at once",
           threads=N_OWN_THREADS + 2, reader_threads=len(readers),
           turns=N_OWN_THREADS * TURNS_PER_THREAD + 2 * SHARED_TURNS_PER_THREAD,
           turns_lost=0, positions_contiguous=True, seconds=elapsed, errors=errors)


def _bad_inputs(cid: str, turn_id: str) -> list[tuple[str, str, str, object, str]]:
    """(what it is, method, path, json body, field to blame)."""
    huge = "x" * 1_000_000
    feedback = "/api/feedback"
    return [
        ("conversation id of the wrong shape", "GET", "/api/conversations/1", None, "conversation_id"),
        ("SQL in a conversation id", "GET", "/api/conversations/' OR 1=1 --", None, "conversation_id"),
        ("upper-case hex id", "DELETE", f"/api/conversations/{cid.upper()}", None, "conversation_id"),
        ("export in an unknown format", "GET", f"/api/conversations/{cid}/export?format=../../etc/passwd", None, "format"),
        ("blank title", "POST", "/api/conversations", {"title": " \t\n"}, "title"),
        ("title of 1,000,000 characters", "PATCH", f"/api/conversations/{cid}", {"title": huge}, "title"),
        ("title that is a number", "PATCH", f"/api/conversations/{cid}", {"title": 7}, "title"),
        ("body that is a list", "POST", "/api/conversations", ["title"], "body"),
        ("question into a malformed conversation id", "POST", "/api/ask",
         {"question": QUESTION, "conversation_id": "x" * 10_000}, "conversation_id"),
        ("turn id of the wrong shape", "POST", feedback, {"turn_id": "turn-1", "rating": "up"}, "turn_id"),
        ("turn id that is an object", "POST", feedback, {"turn_id": {"$ne": ""}, "rating": "up"}, "turn_id"),
        ("rating 'meh'", "POST", feedback, {"turn_id": turn_id, "rating": "meh"}, "rating"),
        ("rating 'UP' (case)", "POST", feedback, {"turn_id": turn_id, "rating": "UP"}, "rating"),
        ("rating that is a list", "POST", feedback, {"turn_id": turn_id, "rating": ["up"]}, "rating"),
        ("comment of 1,000,000 characters", "POST", feedback,
         {"turn_id": turn_id, "rating": "down", "comment": huge}, "comment"),
        ("correction of 1,000,000 characters", "POST", feedback,
         {"turn_id": turn_id, "rating": "down", "correction": huge}, "correction"),
        ("correction with an 'up' rating", "POST", feedback,
         {"turn_id": turn_id, "rating": "up", "correction": "It is right."}, "correction"),
        ("facts that are a string", "POST", feedback, {"turn_id": turn_id, "rating": "down", "facts": "60.3"}, "facts"),
        ("500 facts", "POST", feedback, {"turn_id": turn_id, "rating": "down", "facts": ["f"] * 500}, "facts"),
        ("a fact of 10,000 characters", "POST", feedback,
         {"turn_id": turn_id, "rating": "down", "facts": ["f" * 10_000]}, "facts"),
        ("500 sources", "POST", feedback, {"turn_id": turn_id, "rating": "down", "sources": ["s"] * 500}, "sources"),
    ]


def _row_counts(db: Path) -> dict[str, int]:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return {table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                for table in ("conversations", "turns", "feedback")}


def test_bad_input_over_http_names_the_field_and_stores_nothing(make_assistant, seeds_copy):
    assistant = make_assistant()
    assistant.ingest([seeds_copy])
    client = TestClient(create_app(assistant, with_ui=False), client=("127.0.0.1", 50000))
    cid = client.post("/api/conversations", json={"title": "Kept as it is"}).json()["id"]
    turn_id = client.post("/api/ask", json={"question": QUESTION, "conversation_id": cid}).json()["turn_id"]
    deleted = client.post("/api/conversations", json={}).json()["id"]
    assert client.delete(f"/api/conversations/{deleted}").status_code == 204
    db = Path(assistant.settings.conversations_url.removeprefix("sqlite:///"))
    before, conversation_before = _row_counts(db), client.get(f"/api/conversations/{cid}").json()

    cases = [*_bad_inputs(cid, turn_id),
             ("export of a deleted conversation", "GET", f"/api/conversations/{deleted}/export", None, "conversation_id"),
             ("rating of a deleted conversation's id as a turn", "POST", "/api/feedback",
              {"turn_id": deleted, "rating": "down"}, "turn_id")]
    tried, problems = [], []
    for name, method, path, body, field in cases:
        res = client.request(method, path, json=body)
        reply = res.json() if res.headers.get("content-type", "").startswith("application/json") else {}
        ok = 400 <= res.status_code < 500 and reply.get("field") == field and bool(reply.get("error"))
        if not ok:
            problems.append(f"{name}: {res.status_code} {res.text[:300]}")
        tried.append({"surface": "http conversations", "input": name,
                      "outcome": f"{res.status_code} {reply.get('field')}: {str(reply.get('error'))[:160]}"})
    after = _row_counts(db)
    assert problems == []
    assert after == before, "a refused request stored something"
    assert client.get(f"/api/conversations/{cid}").json() == conversation_before
    record("bad_input", "http conversations and feedback", tried=tried, rows_stored_by_refused_requests=0)
