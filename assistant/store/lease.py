"""The ingest lease: one writer per collection across every machine sharing a Chroma server.

The local ``ingest_lock`` (an ``fcntl`` lock in the collection's folder)
serializes ingests on one machine only; two machines writing into one server
collection would interleave their manifest saves and orphan cleanups. So in
server mode an ingest also holds a lease kept in the server itself.

Why a lease (an owner and an expiry) and not a lock: a machine can die or
lose the network mid-ingest, and the next ingest must be able to take over
without a person. The holder renews the expiry every ``ttl/3``; a lease not
renewed for ``ttl`` is broken by the next ingest that wants it.

Why collections, and why numbered: Chroma has no compare-and-swap on records,
but creating a collection is atomic and unique by name (the server's catalog
refuses a second collection of one name; of eight clients racing to create
one, exactly one succeeds). The lease is therefore a sequence of collections
``<collection>__lease__<n>``, each created once, its metadata holding the
owner (``host:pid:random``) and the expiry (epoch seconds):

- The lease's state is the highest generation ``n``: its owner holds it until
  its expiry. Releasing sets the expiry to 0; nothing else ever writes it
  except its owner's renewals. (User collection names cannot hold ``__``, so
  the prefix is ours alone.)
- Taking it, when the highest generation is released or expired (or none
  exists), is creating generation ``n+1``: two waiters racing to break one
  expired lease both try to create the same name and only one wins; the other
  sees the winner's fresh lease and waits. Nothing is deleted to break a
  lease, so there is no window in which a deletion removes a lease just
  re-taken (the hazard of a single, deleted-and-recreated lease collection).
- After creating ``n+1`` the taker lists the generations again and holds the
  lease only if ``n+1`` is still the highest and its own: a taker acting on
  a stale listing may create a number that older garbage collection had
  freed, and then backs off (deleting it). Generations below the holder's are
  deleted by the holder as garbage; the highest one is never deleted, so a
  number is never reused while it could matter.
- A renewal rewrites the holder's own generation's metadata
  (``collection.modify``, which replaces it) and is valid only if the call
  returned before the old expiry; it then checks that its generation is still
  the highest and its own. A holder past its expiry never renews: it has
  lost the lease, because a breaker may already have created ``n+1``. A late
  renewal landing on ``n`` after ``n+1`` exists changes nothing, since only
  the highest generation counts.

What this relies on: clocks of the machines agree to within ``CLOCK_SKEW_S``
(a breaker waits that much past the expiry), and a holder checks the lease
right before each manifest write (``ensure_held``, which renews it on the
server), so a holder that lost it stops before publishing. Chroma writes
carry no fencing token, so a holder frozen for longer than the lease's
remaining time *between* that check and its write could still write late;
``ensure_held`` renews to a full ``ttl`` before returning, which makes that
window tens of seconds of freeze, not a race.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from assistant.errors import BackendError, IndexStateError

if TYPE_CHECKING:
    from assistant.store.index import Index

log = logging.getLogger(__name__)
T = TypeVar("T")

LEASE_MARK = "__lease__"
CLOCK_SKEW_S = 1.0  # how far apart machines' clocks may be; a breaker waits this long past the expiry
POLL_S = 0.25  # how often a waiter looks at the lease again
LEASE_WAIT_S = 30.0  # how long an ingest waits for a held lease (at least one ttl: see ingest_lease)


class IngestLease(Protocol):
    """What the pipeline asks of the lease it holds (server mode) or of ``NO_LEASE`` (embedded)."""

    def held(self) -> bool: ...

    def ensure_held(self, action: str) -> None: ...


class _NoLease:
    """Embedded mode: the folder's file lock is the only lock needed; always held."""

    def held(self) -> bool:
        return True

    def ensure_held(self, action: str) -> None:
        return None


NO_LEASE: IngestLease = _NoLease()


@dataclass(frozen=True)
class LeaseState:
    """One generation of the lease as the server holds it."""

    generation: int
    owner: str
    expires_at: float  # epoch seconds; 0 once released
    id: str  # the collection's id: a generation deleted and created again is another one

    def describe(self, now: float) -> str:
        if self.expires_at <= 0:
            return f"{self.owner} (released)"
        left = self.expires_at - now
        when = datetime.fromtimestamp(self.expires_at, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        relative = f"in {left:.0f}s" if left >= 0 else f"{-left:.0f}s ago"
        return f"{self.owner}, expiring {when} ({relative}) unless renewed"


def new_owner() -> str:
    """``host:pid:random``: names the machine and process, and differs between two runs of one pid."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def _plain_call(fn: Callable[[], T]) -> T:
    return fn()


class ChromaLease:
    """The ingest lease of one collection, kept in a Chroma server (see the module docstring).

    Example:
        >>> with ChromaLease(client, "shared", ttl_s=30).hold(wait_s=60) as lease:
        ...     write()
        ...     lease.ensure_held("publishing the manifest")
        ...     publish()
    """

    def __init__(
        self,
        client: Any,
        collection: str,
        *,
        ttl_s: float,
        call: Callable[[Callable[[], Any]], Any] = _plain_call,
        where: str = "the Chroma server",
        owner: str | None = None,
        clock: Callable[[], float] = time.time,
        skew_s: float = CLOCK_SKEW_S,
    ) -> None:
        if ttl_s <= 0:
            raise ValueError(f"ttl_s must be positive, got {ttl_s}")
        self.client = client
        self.collection = collection
        self.prefix = lease_prefix(collection)
        self.ttl_s = ttl_s
        self.owner = owner or new_owner()
        self.where = where
        self._call = call
        self._clock = clock
        self._skew_s = skew_s
        self._state: LeaseState | None = None  # ours, while we hold it
        self._col: Any = None
        self._lost: str | None = None  # why we lost it
        self._lock = threading.Lock()  # one renewal at a time (the thread and ensure_held)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ----- reading the server ------------------------------------------------------------
    def generations(self) -> list[LeaseState]:
        """Every generation of this collection's lease on the server, lowest first."""
        found = []
        for col in self._call(lambda: self.client.list_collections()):
            name = str(col.name)
            suffix = name[len(self.prefix):]
            if not name.startswith(self.prefix) or not suffix.isdigit():
                continue
            meta = col.metadata or {}
            try:
                expires_at = float(meta.get("expires_at", 0.0))
            except (TypeError, ValueError):
                expires_at = 0.0  # unreadable: treated as released
            found.append(LeaseState(int(suffix), str(meta.get("owner", "unknown")), expires_at, str(col.id)))
        return sorted(found, key=lambda s: s.generation)

    def current(self) -> LeaseState | None:
        """The highest generation: whoever it names holds the lease until its expiry."""
        found = self.generations()
        return found[-1] if found else None

    def _free(self, state: LeaseState | None) -> bool:
        return state is None or state.expires_at <= 0 or self._clock() > state.expires_at + self._skew_s

    # ----- taking and giving back ----------------------------------------------------------
    def acquire(self, wait_s: float) -> None:
        """Take the lease, waiting up to ``wait_s`` for its holder to release it or let it expire.

        Raises:
            IndexStateError: it was still held after ``wait_s``; names the owner and the expiry.
        """
        deadline = time.monotonic() + wait_s
        waiting_for: str | None = None
        while True:
            current = self.current()
            if self._free(current):
                if current is not None and current.expires_at > 0:
                    log.warning("breaking the expired ingest lease of %r left by %s", self.collection,
                                current.describe(self._clock()))
                if self._try_take((current.generation if current else 0) + 1):
                    return
                continue  # someone else took it first: look again (it is held now)
            assert current is not None
            if current.owner != waiting_for:
                waiting_for = current.owner
                log.info("waiting for the ingest lease of %r, held by %s", self.collection,
                         current.describe(self._clock()))
            if time.monotonic() >= deadline:
                raise IndexStateError(
                    f"Another ingest is writing to collection {self.collection!r} on {self.where}: "
                    f"its lease is held by {current.describe(self._clock())}; waited {wait_s:.0f}s. "
                    "Wait for that ingest to finish, then retry. If its process died, the lease "
                    "expires by itself (ASSISTANT_INGEST_LEASE_TTL_S after its last renewal) and "
                    "the next ingest takes it over."
                )
            time.sleep(max(0.0, min(POLL_S, deadline - time.monotonic())))

    def _try_take(self, generation: int) -> bool:
        """Create generation ``generation``; True when it is ours and the highest one."""
        name = f"{self.prefix}{generation}"
        expires_at = self._clock() + self.ttl_s
        metadata = {"owner": self.owner, "expires_at": expires_at}

        def create() -> Any:
            try:
                return self.client.create_collection(name, metadata=metadata, embedding_function=None)
            except Exception as exc:
                if "already exists" in str(exc).lower():
                    return None  # taken by someone else (or by our own retried call: checked below)
                raise

        col = self._call(create)
        current = self.current()
        if col is None and current is not None and current.generation == generation and current.owner == self.owner:
            col = self._call(lambda: self.client.get_collection(name))  # our create landed; its reply was lost
        if col is None:
            return False
        if current is None or current.generation != generation or current.id != str(col.id):
            # Our listing was stale: a higher generation exists. Withdraw ours (never the highest).
            log.info("ingest lease generation %d of %r was stale; looking again", generation, self.collection)
            self._delete(name)
            return False
        with self._lock:
            self._state, self._col, self._lost = current, col, None
        log.info("took the ingest lease of %r as %s (generation %d, ttl %.0fs)",
                 self.collection, self.owner, generation, self.ttl_s)
        self._collect_garbage(generation)
        return True

    def _collect_garbage(self, below: int) -> None:
        """Delete generations lower than ours; they can never count again."""
        try:
            for state in self.generations():
                if state.generation < below:
                    self._delete(f"{self.prefix}{state.generation}")
        except Exception as exc:  # garbage only: the next holder tries again
            log.debug("could not delete old ingest lease generations: %s", exc)

    def _delete(self, name: str) -> None:
        try:
            self._call(lambda: self.client.delete_collection(name))
        except Exception as exc:  # already gone, or the server is away: harmless either way
            log.debug("could not delete %s: %s", name, exc)

    def release(self) -> None:
        """Give the lease back (expiry 0), so a waiter takes it at once; a lost lease is left alone."""
        self.stop_renewing()
        with self._lock:
            state, col, lost = self._state, self._col, self._lost
            self._state = self._col = None
        if state is None or lost:
            return
        log.info("releasing the ingest lease of %r (generation %d)", self.collection, state.generation)
        try:
            # Harmless even if a higher generation existed: only the highest counts.
            self._call(lambda: col.modify(metadata={"owner": self.owner, "expires_at": 0.0}))
        except Exception as exc:
            log.warning("could not release the ingest lease of %r on %s (%s); it expires by itself "
                        "within %.0fs", self.collection, self.where, exc, self.ttl_s)

    # ----- keeping it ----------------------------------------------------------------------
    def held(self) -> bool:
        """True while we took the lease, have not lost it, and its expiry (our clock) is ahead.

        Local and cheap; ``ensure_held`` also confirms it on the server.
        """
        with self._lock:
            return self._state is not None and not self._lost and self._clock() < self._state.expires_at

    def renew(self) -> bool:
        """Push the expiry one ``ttl`` ahead; False when the lease is lost (and stays lost).

        Raises:
            BackendError: the server could not be asked; the lease stays ours
                until its expiry, so the caller may try again before then.
        """
        with self._lock:
            state, col = self._state, self._col
            if state is None or self._lost:
                return False
            if self._clock() >= state.expires_at:
                return self._lose(f"it expired at {state.describe(self._clock())} before it could be renewed")
            expires_at = self._clock() + self.ttl_s
            try:
                self._call(lambda: col.modify(metadata={"owner": self.owner, "expires_at": expires_at}))
            except BackendError:
                raise
            except Exception as exc:  # e.g. our generation was deleted: the listing below tells
                current = self.current()
                if current is not None and current.generation == state.generation and current.id == state.id:
                    raise BackendError(f"Renewing the ingest lease on {self.where} failed: "
                                       f"{type(exc).__name__}: {exc}") from exc
            if self._clock() >= state.expires_at:
                # The renewal may have landed after the expiry, when a breaker could already
                # have taken over; that breaker would hold generation n+1 and we could not tell
                # from n alone, so we give up rather than guess.
                return self._lose("its renewal returned only after it had expired")
            current = self.current()
            if current is None or current.generation != state.generation or current.id != state.id:
                taker = current.describe(self._clock()) if current else "nobody (it was deleted)"
                return self._lose(f"generation {state.generation} was superseded; it is now held by {taker}")
            self._state = LeaseState(state.generation, self.owner, expires_at, state.id)
            return True

    def _lose(self, reason: str) -> bool:
        self._lost = reason
        log.error("lost the ingest lease of %r on %s: %s", self.collection, self.where, reason)
        return False

    def ensure_held(self, action: str) -> None:
        """Renew the lease on the server now, or raise before ``action`` writes anything.

        Raises:
            IndexStateError: the lease was lost (another ingest may be writing), or the
                server could not confirm it and it is about to expire.
        """
        try:
            if self.renew():
                return
        except BackendError as exc:
            with self._lock:
                state = self._state
            # Nobody may break it before its expiry: with a third of the ttl left, it is still ours.
            if state is not None and not self._lost and self._clock() < state.expires_at - self.ttl_s / 3:
                log.warning("could not renew the ingest lease of %r (%s); still valid", self.collection, exc)
                return
            self._lost = self._lost or f"the server could not renew it: {exc}"
        raise IndexStateError(
            f"This ingest lost its lease on collection {self.collection!r} on {self.where} "
            f"before {action}: {self._lost}. It stopped without publishing, since another ingest "
            "may be writing; run the ingest again (it resumes: written documents are kept). If this "
            "repeats, raise ASSISTANT_INGEST_LEASE_TTL_S or check the server's latency and the clocks."
        )

    def start_renewing(self) -> None:
        """Renew every ``ttl/3`` in a daemon thread until released or lost."""
        self._stop.clear()
        self._thread = threading.Thread(target=self._renew_loop, name=f"lease-{self.collection}", daemon=True)
        self._thread.start()

    def stop_renewing(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=max(self.ttl_s, 5.0))
        self._thread = None

    def _renew_loop(self) -> None:
        pause = self.ttl_s / 3
        while not self._stop.wait(pause):
            try:
                if not self.renew():
                    return  # lost: ensure_held tells the ingest before it writes the manifest
                pause = self.ttl_s / 3
            except Exception as exc:  # a failed call: retry soon; still ours until its expiry
                log.warning("could not renew the ingest lease of %r: %s; retrying", self.collection, exc)
                pause = min(1.0, self.ttl_s / 10)

    @contextmanager
    def hold(self, wait_s: float) -> Iterator[ChromaLease]:
        """Take the lease, renew it in the background, and release it on the way out."""
        self.acquire(wait_s)
        try:
            self.start_renewing()
            yield self
        finally:
            self.release()


def lease_prefix(collection: str) -> str:
    """Names of ``collection``'s lease generations start with this (for deleting and renaming)."""
    return f"{collection}{LEASE_MARK}"


@contextmanager
def ingest_lease(index: Index, wait_s: float = LEASE_WAIT_S) -> Iterator[IngestLease]:
    """The server lease of ``index``'s collection for one ingest; ``NO_LEASE`` in embedded mode.

    Waits at least one ttl (plus the clock skew), so the lease of an ingest
    that died is always broken within one wait rather than timing out.
    """
    settings = index.settings
    if not settings.chroma_url:
        yield NO_LEASE
        return
    from assistant.store.chroma import ChromaCaller

    _ = index.collection  # opens the index's client (an injected one in tests)
    lease = ChromaLease(
        index._client,
        settings.collection,
        ttl_s=settings.ingest_lease_ttl_s,
        call=ChromaCaller(settings),
        where=f"the Chroma server at ASSISTANT_CHROMA_URL={settings.chroma_url}",
    )
    with lease.hold(max(wait_s, settings.ingest_lease_ttl_s + CLOCK_SKEW_S + 1.0)) as held:
        yield held
