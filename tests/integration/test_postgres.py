"""The conversation store on a real PostgreSQL server, as replicas sharing one database use it.

The SQLite suite (tests/unit/conversations/test_store.py) runs here unchanged
against PostgreSQL: its tests are imported and get this module's ``store``
fixture, a store on a fresh database of a real server (tests/integration/
postgres.py). On top of it, what only a database server shared by several
processes can show: two processes appending to one conversation at once get
unique, gapless positions, replicas starting together on an empty database
all come up, a bare ``postgresql://`` URL runs on psycopg 3, a server that is
down is named with its password masked (``assistant serve`` exits 2 before
loading any model), and one that goes away mid-run is a 503 until it is back.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from assistant.conversations.store import ConversationStore, driver_url
from assistant.errors import BackendError
from tests.conftest import ROOT
from tests.integration.postgres import (
    PostgresServer,
    find_postgres_bin,
    free_port,
    missing_reason,
    start_postgres,
)
from tests.unit.conversations.conftest import answer_dict

# The SQLite suite, re-run here with the PostgreSQL ``store`` fixture below.
from tests.unit.conversations.test_store import (  # noqa: F401
    test_a_reader_does_not_wait_for_a_writer,
    test_another_owner_sees_nothing,
    test_bad_feedback_names_the_field_and_stores_nothing,
    test_bad_titles_name_the_field,
    test_create_list_get_rename_delete,
    test_delete_removes_turns_and_feedback,
    test_feedback_counts_of_an_empty_store_are_zero,
    test_feedback_counts_per_iso_week,
    test_feedback_text_at_the_limit_is_kept_whole,
    test_latest_feedback_wins,
    test_malformed_ids_are_input_errors_naming_the_field,
    test_turns_survive_a_new_store_on_the_same_file,
    test_two_threads_writing_into_one_conversation_get_distinct_ordered_positions,
    test_unknown_well_formed_ids_are_not_found,
)

pytestmark = pytest.mark.integration

TURNS_PER_PROCESS = 40

# A writer process: waits for the go file, then appends its turns one by one; it counts the
# inserts that collided on a position (the unique constraint's retry), which the row lock prevents.
_WRITER = """
import sys, time
from pathlib import Path
from sqlalchemy.exc import IntegrityError
from assistant.conversations.store import ConversationStore
from tests.unit.conversations.conftest import answer_dict
url, cid, name, count, go = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), Path(sys.argv[5])
collisions = 0
insert = ConversationStore._insert_turn
def counting(self, *args):
    global collisions
    try:
        return insert(self, *args)
    except IntegrityError:
        collisions += 1
        raise
ConversationStore._insert_turn = counting
store = ConversationStore(url)
store.check()  # connected before the start, so both writers really overlap
print("ready", flush=True)
while not go.exists():
    time.sleep(0.005)
for i in range(count):
    store.add_turn(cid, f"{name} {i}", answer_dict())
print("done", name, collisions, flush=True)
"""

# A replica starting on an empty database: opens the store (creating the tables) at the go signal.
_STARTER = """
import sys, time
from pathlib import Path
from assistant.conversations.store import ConversationStore
url, go = sys.argv[1], Path(sys.argv[2])
store = ConversationStore(url)
print("ready", flush=True)
while not go.exists():
    time.sleep(0.005)
store.check()
store.create(title="started")
print("up", flush=True)
"""


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    if find_postgres_bin() is None:
        pytest.fail(missing_reason())
    server = start_postgres()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def store(postgres) -> Iterator[ConversationStore]:
    """What the SQLite suite's ``store`` is, on a fresh PostgreSQL database."""
    s = ConversationStore(postgres.create_database(), max_feedback_chars=50)
    yield s
    s.close()


def _run_together(script: str, argv_per_process: list[list[str]], go: Path, timeout: float = 90) -> list[str]:
    """Start one process per argv, wait until each says ``ready``, touch ``go``; their outputs after that."""
    procs = [
        subprocess.Popen([sys.executable, "-c", script, *argv], cwd=ROOT, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
        for argv in argv_per_process
    ]
    try:
        for proc in procs:  # past the imports (about 1.5 s) and, for writers, the connect
            assert proc.stdout is not None and proc.stdout.readline().strip() == "ready", proc.communicate()
        go.touch()
        outputs = []
        for proc in procs:
            out, err = proc.communicate(timeout=timeout)
            assert proc.returncode == 0, err[-3000:]
            outputs.append(out)
        return outputs
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def test_two_processes_appending_to_one_conversation_get_unique_gapless_positions(store, tmp_path) -> None:
    chat = store.create()
    go = tmp_path / "go"
    outputs = _run_together(_WRITER, [[store.url, chat.id, name, str(TURNS_PER_PROCESS), str(go)]
                                      for name in ("a", "b")], go)
    # Both finished, and no insert ever collided: the second writer waited for the first's lock.
    assert [o.split() for o in outputs] == [["done", "a", "0"], ["done", "b", "0"]]
    turns = store.get(chat.id).turns
    assert [t.position for t in turns] == list(range(2 * TURNS_PER_PROCESS))
    for name in ("a", "b"):  # each writer's turns in the order it wrote them
        assert [t.question for t in turns if t.question.startswith(name)] == [
            f"{name} {i}" for i in range(TURNS_PER_PROCESS)]
    # They really overlapped: neither process wrote all its turns before the other began.
    owners = [t.question[0] for t in turns]
    assert owners != sorted(owners) and owners != sorted(owners, reverse=True)
    assert store.list()[0].turn_count == 2 * TURNS_PER_PROCESS
    # Feedback on turns either process wrote, read back through a third connection.
    first_b = next(t for t in turns if t.question == "b 0")
    store.add_feedback(first_b.id, "down", correction="The quota was cut in 2010.", facts=["2010"])
    again = ConversationStore(store.url)
    try:
        assert again.get_turn(first_b.id).feedback.correction == "The quota was cut in 2010."
    finally:
        again.close()


def test_replicas_starting_together_on_an_empty_database_all_come_up(postgres, tmp_path) -> None:
    url = postgres.create_database("fresh")
    go = tmp_path / "go"
    outputs = _run_together(_STARTER, [[url, str(go)] for _ in range(4)], go)
    assert [o.strip() for o in outputs] == ["up"] * 4
    store = ConversationStore(url)
    try:
        assert [c.title for c in store.list()] == ["started"] * 4
    finally:
        store.close()


def test_a_bare_postgresql_url_runs_on_psycopg_3(postgres) -> None:
    plain = postgres.create_database().replace("postgresql+psycopg://", "postgresql://")
    store = ConversationStore(plain)
    try:
        assert store.url.startswith("postgresql+psycopg://")
        chat = store.create()
        store.add_turn(chat.id, "When did China cut export quotas?", answer_dict())
        assert store.get(chat.id).turn_count == 1
        with store.engine.connect() as conn:
            assert conn.execute(text("select 1")).scalar_one() == 1
            assert store.engine.dialect.driver == "psycopg"
    finally:
        store.close()
    assert driver_url("postgres://u:p@h/db") == "postgresql+psycopg://u:p@h/db"  # Heroku-style
    assert driver_url("postgresql+psycopg2://u@h/db") == "postgresql+psycopg2://u@h/db"  # named: kept
    assert driver_url("sqlite:///x.db") == "sqlite:///x.db"


def test_a_server_that_is_down_is_named_with_the_password_masked(postgres) -> None:
    # The port of a server that is not running: a refused connection, at once.
    url = f"postgresql://assistant:s3cret-pw@127.0.0.1:{free_port()}/conversations"
    store = ConversationStore(url)
    started = time.monotonic()
    with pytest.raises(BackendError) as err:
        store.check()
    assert time.monotonic() - started < 15
    message = str(err.value)
    assert "s3cret-pw" not in message
    assert "postgresql+psycopg://assistant:***@127.0.0.1" in message and "ASSISTANT_DATABASE_URL" in message


def _serve(database_url: str, index_dir: Path) -> subprocess.CompletedProcess:
    """``assistant serve`` with ASSISTANT_DATABASE_URL, as a replica would be started."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    env.update(ASSISTANT_DATABASE_URL=database_url, ASSISTANT_INDEX_DIR=str(index_dir),
               ASSISTANT_LLM="extractive", HF_HUB_OFFLINE="1")
    return subprocess.run([sys.executable, "-m", "assistant.cli", "serve", "--port", str(free_port())],
                          env=env, cwd=ROOT, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60)


@pytest.mark.parametrize("problem", ["server down", "no such database"])
def test_serve_with_an_unreachable_database_names_it_and_exits_2(postgres, tmp_path, problem) -> None:
    port = free_port() if problem == "server down" else postgres.port
    url = f"postgresql://postgres:s3cret-pw@127.0.0.1:{port}/missing_db"
    started = time.monotonic()
    done = _serve(url, tmp_path / "index")
    assert done.returncode == 2, done.stdout + done.stderr
    assert time.monotonic() - started < 20  # before any model loads
    error = done.stderr.strip().splitlines()[-1]
    assert error.startswith("error: Cannot open the conversations database "
                            f"postgresql+psycopg://postgres:***@127.0.0.1:{port}/missing_db: ")
    assert ("Connection refused" if problem == "server down" else 'database "missing_db" does not exist') in error
    assert "ASSISTANT_DATABASE_URL" in error and "Traceback" not in done.stderr
    assert "s3cret-pw" not in done.stdout + done.stderr
    assert "Loading models" not in done.stdout


def test_serve_with_a_url_of_no_known_database_says_what_to_use(tmp_path) -> None:
    done = _serve("mysql://app:s3cret-pw@db.internal/conversations", tmp_path / "index")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "ASSISTANT_DATABASE_URL=mysql://app:***@db.internal/conversations" in done.stderr
    assert "postgresql://USER:PASSWORD@HOST:PORT/DB" in done.stderr and "s3cret-pw" not in done.stderr


def test_a_database_that_goes_away_is_a_503_naming_it_and_its_return_needs_no_restart(make_assistant, seeds_copy) -> None:
    from fastapi.testclient import TestClient

    from assistant.web.app import create_app

    own = start_postgres()  # its own server: this test stops it
    try:
        url = own.create_database().replace("postgres@", "postgres:s3cret-pw@")
        assistant = make_assistant(database_url=url)
        assistant.ingest([seeds_copy])
        with TestClient(create_app(assistant, with_ui=False)) as client:
            cid = _ok(client.post("/api/conversations", json={"title": "Before"}), 201)["id"]
            own.pause()
            for res in (client.get("/api/conversations"), client.post("/api/conversations", json={}),
                        client.get(f"/api/conversations/{cid}")):
                assert res.status_code == 503, res.text
                body = res.json()
                assert body["code"] == "backend_unavailable"
                assert f"postgresql+psycopg://postgres:***@127.0.0.1:{own.port}/" in body["error"]
                assert "s3cret-pw" not in res.text and "ASSISTANT_DATABASE_URL" in body["error"]
            # A question outside any conversation needs no database.
            assert _ok(client.post("/api/ask", json={"question": "Who restricts rare earth exports?"}))["text"]
            own.resume()
            # The same server process, untouched: its pool reconnects on the next request.
            assert [c["title"] for c in _ok(client.get("/api/conversations"))] == ["Before"]
            _ok(client.post("/api/conversations", json={"title": "After"}), 201)
    finally:
        own.stop()


def _ok(res, status: int = 200):
    assert res.status_code == status, res.text
    return res.json()
