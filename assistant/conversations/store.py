"""Saved conversations and feedback, through SQLAlchemy (SQLite beside the index, or PostgreSQL).

Every read and write names an ``owner``: a conversation another owner holds
is reported exactly like one that does not exist, so ids cannot be probed.

SQLite runs in WAL mode with ``synchronous=NORMAL``: a committed turn
survives a ``kill -9`` of the server (only the turn being written can be
lost), and readers never wait for a writer. Write transactions start with
``BEGIN IMMEDIATE`` so that two writers queue for the lock instead of one
failing when it tries to upgrade a read.

PostgreSQL (several replicas sharing one database) gets the same guarantees
from row locks: a writer of a turn locks its conversation's row (``SELECT ...
FOR UPDATE``) before it reads the next position, so two processes appending to
one conversation queue there and positions stay unique and gapless; the
unique constraint on (conversation, position) stays as the backstop. Replicas
starting together create the tables under an advisory lock, so only one runs
the ``CREATE TABLE``.
"""

from __future__ import annotations

import builtins  # the class's own ``list`` method shadows the builtin in later annotations
import json
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, delete, event, func, insert, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError, NoSuchModuleError
from sqlalchemy.pool import StaticPool

from assistant.conversations import schema
from assistant.conversations.records import (
    LOCAL_OWNER,
    MAX_FACTS,
    MAX_SOURCES,
    ConversationRecord,
    FeedbackRecord,
    TurnRecord,
    check_id,
    check_list,
    check_rating,
    check_text,
    check_title,
    not_found,
)
from assistant.errors import BackendError, ConfigError, InputError

_WRITE_RETRIES = 5
_READ_ONLY = "conversations_read_only"  # execution option of connections that only read
_SCHEMA_LOCK_KEY = 0x61737374  # pg_advisory_xact_lock key held while creating the tables ("asst")
_CONNECT_TIMEOUT_S = 10  # a database that does not answer fails start-up in seconds, not minutes


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _new_id() -> str:
    return uuid.uuid4().hex


def default_title(question: str) -> str:
    """A new conversation's title: its first question, shortened at a word boundary."""
    words = " ".join(question.split())
    return words if len(words) <= 80 else words[:80].rsplit(" ", 1)[0] + "…"


def driver_url(url: str) -> str:
    """``url`` with psycopg 3 as its PostgreSQL driver when it names none.

    SQLAlchemy reads a bare ``postgresql://`` as psycopg2, which the project does not
    install (psycopg 3 is in pyproject.toml), and does not know Heroku-style ``postgres://``
    at all; a URL that names its driver (``postgresql+psycopg2://``) is left alone.
    """
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def masked_url(url: str) -> str:
    """``url`` fit for a log line or an error message: the password replaced by ``***``."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable URL>"  # it may hold the password anywhere


def unreachable_error(url: str, exc: BaseException) -> BackendError:
    """The error of a database that cannot be opened or reached: the masked URL, the driver's reason, the fix."""
    reason = " ".join(str(getattr(exc, "orig", None) or exc).split())
    reason += "" if reason.endswith((".", "?", "!")) else "."
    fix = ("Check ASSISTANT_DATA_DIR (a writable folder) or set ASSISTANT_DATABASE_URL."
           if url.startswith("sqlite") else
           "Check ASSISTANT_DATABASE_URL (host, port, user, password, database) and that the server is up.")
    return BackendError(f"Cannot open the conversations database {masked_url(url)}: {reason} {fix}")


def _server_engine(url: str) -> Engine:
    """The engine of a database server (PostgreSQL): connections checked before use, a connect timeout.

    A server that goes away while we run is a ``BackendError`` (HTTP 503 naming it) rather than
    a driver exception (a 500); the pool's pre-ping reconnects once it is back, no restart needed.
    """
    parsed = make_url(url)
    connect_args: dict[str, Any] = {}
    if parsed.get_backend_name() == "postgresql" and "connect_timeout" not in parsed.query:
        connect_args["connect_timeout"] = _CONNECT_TIMEOUT_S
    engine = create_engine(url, pool_pre_ping=True, connect_args=connect_args)

    @event.listens_for(engine, "handle_error")
    def _lost_server(context: Any) -> None:
        # A failed pre-ping is followed by a fresh connect, whose failure comes back here; a
        # statement error on a live connection (a constraint, a deadlock) is left as it is.
        if not context.is_pre_ping and (context.is_disconnect or context.connection is None):
            raise unreachable_error(url, context.original_exception) from context.original_exception

    return engine


def _create_tables(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        schema.metadata.create_all(engine)
        return
    with engine.begin() as conn:
        # Two replicas starting together would both find no table and both CREATE it; the
        # second would fail on the catalog's unique index. The lock makes the second wait and
        # then find the tables there.
        conn.execute(select(func.pg_advisory_xact_lock(_SCHEMA_LOCK_KEY)))
        schema.metadata.create_all(conn)


def _sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL; None for another database or an in-memory one."""
    if not url.startswith("sqlite"):
        return None
    path = make_url(url).database
    return Path(path) if path and path != ":memory:" else None


def _sqlite_engine(url: str) -> Engine:
    file = _sqlite_file(url)
    if file is not None:
        try:
            file.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(
                f"Cannot create the conversations folder {file.parent}: {exc}. "
                "Set ASSISTANT_DATA_DIR to a writable folder."
            ) from exc
    # An in-memory database exists once per connection: share one across threads.
    pool = {"poolclass": StaticPool} if file is None else {}
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **pool)

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves (below)
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        # A reader takes a plain (deferred) snapshot, which WAL never makes wait for a writer;
        # BEGIN IMMEDIATE there would queue every list and get behind the writes.
        conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get(_READ_ONLY) else "BEGIN IMMEDIATE")

    return engine


class ConversationStore:
    """Conversations, their turns and the feedback on them.

    Args:
        url: a SQLAlchemy URL (``sqlite:///…/conversations.db`` or ``postgresql://…``, which
            is run through psycopg 3: see ``driver_url``).
        max_feedback_chars: the longest comment or correction accepted.
    """

    def __init__(self, url: str, max_feedback_chars: int = 4000) -> None:
        self.url = driver_url(url)
        self.max_feedback_chars = max_feedback_chars
        self._engine: Engine | None = None
        self._lock = threading.Lock()

    @property
    def engine(self) -> Engine:
        """The engine, created (with the tables) on first use."""
        if self._engine is None:
            with self._lock:
                if self._engine is None:
                    try:
                        engine = _sqlite_engine(self.url) if self.url.startswith("sqlite") else _server_engine(self.url)
                    except (ArgumentError, NoSuchModuleError, ImportError) as exc:  # ImportError: its driver
                        raise ConfigError(
                            f"ASSISTANT_DATABASE_URL={masked_url(self.url)} is not a database URL this "
                            f"assistant can open ({exc}); use sqlite:///PATH or postgresql://USER:PASSWORD@HOST:PORT/DB."
                        ) from exc
                    try:
                        _create_tables(engine)
                    except DBAPIError as exc:
                        engine.dispose()
                        raise unreachable_error(self.url, exc) from exc
                    except BackendError:
                        engine.dispose()
                        raise
                    self._engine = engine
        return self._engine

    def check(self) -> None:
        """Open the database now (creating the tables), so a bad URL or a server that is down
        stops a server at start-up instead of failing its first conversation.

        Raises:
            BackendError: the database cannot be reached or written, naming the masked URL.
            ConfigError: the URL is not one SQLAlchemy can use.
        """
        engine = self.engine
        try:
            with engine.connect() as conn:
                conn.execute(select(1))
        except DBAPIError as exc:
            raise unreachable_error(self.url, exc) from exc

    def _reading(self) -> Any:
        """A connection for reads only: on SQLite it never waits for a writer."""
        return self.engine.connect().execution_options(**{_READ_ONLY: True})

    def exists(self) -> bool:
        """Whether there is a database to read, without creating one (a missing SQLite file: no)."""
        file = _sqlite_file(self.url)
        return file.is_file() if file is not None else not self.url.startswith("sqlite")

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    # ----- conversations --------------------------------------------------------
    def create(self, owner: str = LOCAL_OWNER, title: str | None = None) -> ConversationRecord:
        """A new, empty conversation (titled by its first question unless ``title`` is given)."""
        clean = check_title(title) if title is not None else ""
        now = _now()
        record = ConversationRecord(id=_new_id(), title=clean, created_at=now, updated_at=now)
        with self.engine.begin() as conn:
            conn.execute(insert(schema.conversations).values(
                id=record.id, owner=owner, title=clean, created_at=now, updated_at=now
            ))
        return record

    def list(self, owner: str = LOCAL_OWNER, limit: int = 200) -> list[ConversationRecord]:
        """``owner``'s conversations, the most recently used first."""
        c, t = schema.conversations, schema.turns
        counts = select(t.c.conversation_id, func.count().label("n")).group_by(t.c.conversation_id).subquery()
        query = (
            select(c, func.coalesce(counts.c.n, 0).label("n"))
            .outerjoin(counts, counts.c.conversation_id == c.c.id)
            .where(c.c.owner == owner)
            .order_by(c.c.updated_at.desc())
            .limit(limit)
        )
        with self._reading() as conn:
            rows = conn.execute(query).all()
        return [
            ConversationRecord(id=r.id, title=r.title, created_at=r.created_at, updated_at=r.updated_at, turn_count=r.n)
            for r in rows
        ]

    def get(self, conversation_id: object, owner: str = LOCAL_OWNER) -> ConversationRecord:
        """One conversation with its turns (and each turn's latest feedback), oldest turn first."""
        cid = check_id(conversation_id, "conversation_id")
        with self._reading() as conn:
            row = self._owned(conn, cid, owner)
            turn_rows = conn.execute(
                select(schema.turns).where(schema.turns.c.conversation_id == cid).order_by(schema.turns.c.position)
            ).all()
            ratings = self._latest_feedback(conn, [r.id for r in turn_rows])
        turns = [self._turn(r, ratings.get(r.id)) for r in turn_rows]
        return ConversationRecord(
            id=row.id, title=row.title, created_at=row.created_at, updated_at=row.updated_at,
            turn_count=len(turns), turns=turns,
        )

    def rename(self, conversation_id: object, title: object, owner: str = LOCAL_OWNER) -> ConversationRecord:
        cid = check_id(conversation_id, "conversation_id")
        clean = check_title(title)
        with self.engine.begin() as conn:
            self._owned(conn, cid, owner)
            conn.execute(update(schema.conversations).where(schema.conversations.c.id == cid).values(
                title=clean, updated_at=_now()
            ))
        return self.get(cid, owner)

    def delete(self, conversation_id: object, owner: str = LOCAL_OWNER) -> None:
        """Delete a conversation with its turns and their feedback."""
        cid = check_id(conversation_id, "conversation_id")
        with self.engine.begin() as conn:
            # Locked (PostgreSQL) so a turn being appended meanwhile finishes first, or finds it gone.
            self._owned(conn, cid, owner, lock=True)
            turn_ids = select(schema.turns.c.id).where(schema.turns.c.conversation_id == cid)
            # Explicit rather than trusting ON DELETE CASCADE, which SQLite only honours with a pragma.
            conn.execute(delete(schema.feedback).where(schema.feedback.c.turn_id.in_(turn_ids)))
            conn.execute(delete(schema.turns).where(schema.turns.c.conversation_id == cid))
            conn.execute(delete(schema.conversations).where(schema.conversations.c.id == cid))

    def check_owned(self, conversation_id: object, owner: str = LOCAL_OWNER) -> str:
        """The id, if it names a conversation of ``owner``; else the error a caller should see."""
        cid = check_id(conversation_id, "conversation_id")
        with self._reading() as conn:
            self._owned(conn, cid, owner)
        return cid

    # ----- turns ----------------------------------------------------------------
    def add_turn(
        self,
        conversation_id: object,
        question: str,
        answer: dict[str, Any],
        owner: str = LOCAL_OWNER,
        settings: dict[str, Any] | None = None,
    ) -> TurnRecord:
        """Append a turn at the next position; concurrent writers each get their own place."""
        cid = check_id(conversation_id, "conversation_id")
        generator = str(answer.get("metadata", {}).get("generator", "")) or "unknown"
        for attempt in range(_WRITE_RETRIES):
            try:
                return self._insert_turn(cid, question, answer, owner, generator, settings or {})
            except IntegrityError:
                # Another writer took the position between our read and our insert. Should not
                # happen (SQLite's BEGIN IMMEDIATE and PostgreSQL's row lock both serialise
                # writers), but a writer that bypasses the lock is met by the unique constraint.
                time.sleep(0.01 * (attempt + 1))
        raise BackendError(f"Could not save the turn into conversation {cid} after {_WRITE_RETRIES} tries; retry.")

    def _insert_turn(
        self, cid: str, question: str, answer: dict[str, Any], owner: str, generator: str, settings: dict[str, Any]
    ) -> TurnRecord:
        t = schema.turns
        now = _now()
        with self.engine.begin() as conn:
            # The conversation's row lock (PostgreSQL; SQLite has one writer at a time anyway)
            # queues writers into one conversation, so each reads the position the last one wrote.
            row = self._owned(conn, cid, owner, lock=True)
            position = conn.execute(select(func.coalesce(func.max(t.c.position), -1) + 1).where(
                t.c.conversation_id == cid
            )).scalar_one()
            record = TurnRecord(
                id=_new_id(), conversation_id=cid, position=position, question=question, answer=answer,
                abstained=bool(answer.get("abstained")), generator=generator, settings=settings, created_at=now,
            )
            conn.execute(insert(t).values(
                id=record.id, conversation_id=cid, position=position, question=question,
                answer=json.dumps(answer, ensure_ascii=False), abstained=record.abstained,
                generator=generator, settings=json.dumps(settings, default=str), created_at=now,
            ))
            changes: dict[str, Any] = {"updated_at": now}
            if not row.title:
                changes["title"] = default_title(question)
            conn.execute(update(schema.conversations).where(schema.conversations.c.id == cid).values(**changes))
        return record

    def get_turn(self, turn_id: object, owner: str = LOCAL_OWNER) -> TurnRecord:
        tid = check_id(turn_id, "turn_id")
        t, c = schema.turns, schema.conversations
        with self._reading() as conn:
            row = conn.execute(
                select(t).join(c, c.c.id == t.c.conversation_id).where(t.c.id == tid, c.c.owner == owner)
            ).first()
            if row is None:
                raise not_found("turn", "turn_id", tid)
            rating = self._latest_feedback(conn, [tid]).get(tid)
        return self._turn(row, rating)

    # ----- feedback -------------------------------------------------------------
    def add_feedback(
        self,
        turn_id: object,
        rating: object,
        owner: str = LOCAL_OWNER,
        comment: object = None,
        correction: object = None,
        facts: object = None,
        sources: object = None,
    ) -> FeedbackRecord:
        """Rate a turn; every field is checked before anything is stored.

        A correction (and the facts it must contain) only belongs to a down rating.
        """
        tid = check_id(turn_id, "turn_id")
        clean_rating = check_rating(rating)
        clean_comment = check_text(comment, "comment", self.max_feedback_chars)
        clean_correction = check_text(correction, "correction", self.max_feedback_chars)
        clean_facts = check_list(facts, "facts", MAX_FACTS, 300)
        clean_sources = check_list(sources, "sources", MAX_SOURCES, 200)
        if clean_rating == "up" and (clean_correction or clean_facts):
            raise InputError("correction and facts go with a 'down' rating; send rating 'down'.",
                             field="correction" if clean_correction else "facts")
        record = FeedbackRecord(
            id=_new_id(), turn_id=tid, rating=clean_rating, comment=clean_comment, correction=clean_correction,
            facts=clean_facts, sources=clean_sources, created_at=_now(),
        )
        t, c = schema.turns, schema.conversations
        with self.engine.begin() as conn:
            # Checked in the writing transaction: a conversation deleted meanwhile is a 404, not a key error.
            # FOR SHARE (PostgreSQL): a delete of the conversation waits for this insert, or wins first.
            owned = conn.execute(
                select(t.c.id).join(c, c.c.id == t.c.conversation_id).where(t.c.id == tid, c.c.owner == owner)
                .with_for_update(read=True)
            ).first()
            if owned is None:
                raise not_found("turn", "turn_id", tid)
            conn.execute(insert(schema.feedback).values(
                id=record.id, turn_id=tid, rating=clean_rating, comment=clean_comment, correction=clean_correction,
                facts=json.dumps(clean_facts) if clean_facts else None,
                sources=json.dumps(clean_sources) if clean_sources else None, created_at=record.created_at,
            ))
        return record

    def rated_turns(self, rating: str | None = None) -> builtins.list[tuple[TurnRecord, FeedbackRecord]]:
        """Every turn with its latest feedback (of ``rating`` when given), oldest first, all owners.

        For the operator's CLI (counts and the gold export), not for any web route.
        """
        f = schema.feedback
        with self._reading() as conn:
            turn_rows = conn.execute(
                select(schema.turns).where(schema.turns.c.id.in_(select(f.c.turn_id)))
                .order_by(schema.turns.c.created_at)
            ).all()
            # Every feedback row in one pass (no id list: SQLite caps bound parameters).
            ratings = self._latest(conn.execute(select(f).order_by(f.c.created_at)).all())
        pairs = [(self._turn(r, ratings[r.id]), ratings[r.id]) for r in turn_rows if r.id in ratings]
        return [(t, f) for t, f in pairs if rating is None or f.rating == rating]

    def feedback_counts(self) -> dict[str, Any]:
        """Latest rating per turn: totals, and per ISO week (``2026-W48``) of the rating."""
        pairs = self.rated_turns()
        totals = Counter(f.rating for _, f in pairs)
        weeks: dict[str, Counter[str]] = {}
        for _, fb in pairs:
            year, week, _ = date.fromisoformat(fb.created_at[:10]).isocalendar()
            weeks.setdefault(f"{year}-W{week:02d}", Counter())[fb.rating] += 1
        return {
            "up": totals["up"],
            "down": totals["down"],
            "down_with_correction": sum(1 for _, f in pairs if f.rating == "down" and f.correction),
            "weeks": {w: {"up": c["up"], "down": c["down"]} for w, c in sorted(weeks.items())},
        }

    # ----- helpers --------------------------------------------------------------
    @staticmethod
    def _owned(conn: Any, cid: str, owner: str, lock: bool = False) -> Any:
        """The conversation's row if ``owner`` holds it; ``lock``: held until the transaction ends
        (``FOR UPDATE`` on PostgreSQL; SQLite, which has no row locks, ignores it)."""
        c = schema.conversations
        query = select(c).where(c.c.id == cid, c.c.owner == owner)
        row = conn.execute(query.with_for_update() if lock else query).first()
        if row is None:
            raise not_found("conversation", "conversation_id", cid)
        return row

    @staticmethod
    def _latest_feedback(conn: Any, turn_ids: builtins.list[str]) -> dict[str, FeedbackRecord]:
        if not turn_ids:
            return {}
        f = schema.feedback
        return ConversationStore._latest(
            conn.execute(select(f).where(f.c.turn_id.in_(turn_ids)).order_by(f.c.created_at)).all()
        )

    @staticmethod
    def _latest(rows: Any) -> dict[str, FeedbackRecord]:
        """The last feedback per turn of ``rows`` (ordered oldest first)."""
        latest: dict[str, FeedbackRecord] = {}
        for r in rows:  # ordered oldest first, so the last one written wins
            latest[r.turn_id] = FeedbackRecord(
                id=r.id, turn_id=r.turn_id, rating=r.rating, comment=r.comment, correction=r.correction,
                facts=json.loads(r.facts) if r.facts else None, sources=json.loads(r.sources) if r.sources else None,
                created_at=r.created_at,
            )
        return latest

    @staticmethod
    def _turn(row: Any, rating: FeedbackRecord | None) -> TurnRecord:
        return TurnRecord(
            id=row.id, conversation_id=row.conversation_id, position=row.position, question=row.question,
            answer=json.loads(row.answer), abstained=bool(row.abstained), generator=row.generator,
            settings=json.loads(row.settings), created_at=row.created_at, feedback=rating,
        )
