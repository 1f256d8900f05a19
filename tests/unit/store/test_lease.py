"""The ingest lease on an in-memory Chroma: take, renew, release, break after expiry, lose, time out."""

from __future__ import annotations

import threading
import time
import uuid

import pytest

from assistant.errors import IndexStateError
from assistant.store.lease import ChromaLease, lease_prefix
from tests.conftest import EXPLAINER, STORY


class Clock:
    """Wall-clock seconds a test moves by hand (the lease's expiries are read from it)."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def name() -> str:
    return f"lease{uuid.uuid4().hex[:10]}"


def lease(client, name, clock=None, ttl_s=30.0, owner=None) -> ChromaLease:
    return ChromaLease(client, name, ttl_s=ttl_s, clock=clock or time.time, owner=owner)


def test_take_renew_release(chroma_memory, name):
    clock = Clock()
    a = lease(chroma_memory, name, clock, owner="host-a:1:aa")
    a.acquire(wait_s=1)
    assert a.held()
    (state,) = a.generations()
    assert (state.generation, state.owner, state.expires_at) == (1, "host-a:1:aa", clock.now + 30)
    clock.now += 10
    assert a.renew()
    assert a.current().expires_at == clock.now + 30  # pushed one ttl ahead, on the server
    a.release()
    assert not a.held() and a.current().expires_at == 0
    b = lease(chroma_memory, name, clock, owner="host-b:2:bb")
    started = time.monotonic()
    b.acquire(wait_s=5)  # a released lease is taken at once
    assert time.monotonic() - started < 1
    assert [(s.generation, s.owner) for s in b.generations()] == [(2, "host-b:2:bb")]  # 1 collected
    b.release()


def test_waiting_times_out_naming_the_owner_the_expiry_and_the_fix(chroma_memory, name):
    clock = Clock()
    a = lease(chroma_memory, name, clock, owner="host-a:1:aa")
    a.acquire(wait_s=1)
    b = lease(chroma_memory, name, clock)
    started = time.monotonic()
    with pytest.raises(IndexStateError) as err:
        b.acquire(wait_s=0.5)
    assert 0.4 < time.monotonic() - started < 3
    message = str(err.value)
    assert "host-a:1:aa" in message and name in message
    assert "expiring 1970-01-12 13:47:10 UTC (in 30s)" in message  # the clock's 1,000,000 s + ttl
    assert "Wait for that ingest to finish" in message and "ASSISTANT_INGEST_LEASE_TTL_S" in message
    assert a.held() and a.renew()


def test_an_expired_lease_is_broken_and_its_holder_knows_it_lost(chroma_memory, name):
    clock = Clock()
    a = lease(chroma_memory, name, clock, owner="host-a:1:aa")
    a.acquire(wait_s=1)
    clock.now += 30.5  # expired, but within the clock skew allowance: not yet breakable
    b = lease(chroma_memory, name, clock, owner="host-b:2:bb")
    with pytest.raises(IndexStateError):
        b.acquire(wait_s=0.3)
    clock.now += 1.0
    b.acquire(wait_s=1)
    assert b.current().owner == "host-b:2:bb" and b.current().generation == 2
    assert not a.held() and not a.renew()  # past its expiry: never renewed
    with pytest.raises(IndexStateError, match="lost its lease .* before publishing the manifest"):
        a.ensure_held("publishing the manifest")
    a.release()  # a lost lease is left alone
    assert b.current().owner == "host-b:2:bb" and b.renew()


def test_a_holder_whose_lease_was_taken_over_loses_it_at_its_next_renewal(chroma_memory, name):
    a = lease(chroma_memory, name, Clock(), owner="host-a:1:aa")
    a.acquire(wait_s=1)
    # Another machine whose clock is far ahead sees the lease expired and takes it over.
    b = lease(chroma_memory, name, Clock(2_000_000.0), owner="host-b:2:bb")
    b.acquire(wait_s=1)
    assert a.held()  # by its own clock; the server says otherwise:
    assert not a.renew()
    with pytest.raises(IndexStateError) as err:
        a.ensure_held("checkpointing the manifest")
    assert "superseded" in str(err.value) and "host-b:2:bb" in str(err.value)


def test_two_breakers_racing_for_one_expired_lease_one_wins(chroma_memory, name):
    clock = Clock()
    dead = lease(chroma_memory, name, clock, owner="dead:1:00")
    dead.acquire(wait_s=1)
    clock.now += 60
    for _ in range(3):  # racing threads; a few rounds, each on a new expired generation
        breakers = [lease(chroma_memory, name, clock, owner=f"breaker:{i}:{uuid.uuid4().hex[:4]}")
                    for i in range(4)]
        top = breakers[0].current().generation
        gate = threading.Barrier(len(breakers))
        won: list[bool] = [False] * len(breakers)

        def take(i: int, breakers: list[ChromaLease], gate: threading.Barrier, won: list[bool], top: int) -> None:
            gate.wait()
            won[i] = breakers[i]._try_take(top + 1)  # each saw the same expired generation

        threads = [threading.Thread(target=take, args=(i, breakers, gate, won, top)) for i in range(len(breakers))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        assert sum(won) == 1
        winner = breakers[won.index(True)]
        assert winner.current().owner == winner.owner and winner.renew()
        assert not any(b.held() for b in breakers if b is not winner)
        clock.now += 60  # the winner dies too


def test_a_stale_taker_backs_off_when_a_higher_generation_exists(chroma_memory, name):
    clock = Clock()
    first = lease(chroma_memory, name, clock)
    first.acquire(wait_s=1)
    first.release()
    holder = lease(chroma_memory, name, clock, owner="holder:1:aa")
    holder.acquire(wait_s=1)  # generation 2; generation 1 deleted as garbage
    assert [s.generation for s in holder.generations()] == [2]
    stale = lease(chroma_memory, name, clock, owner="stale:2:bb")
    assert not stale._try_take(1)  # it read the listing when 1 was the highest and free
    assert not stale.held()
    assert [(s.generation, s.owner) for s in holder.generations()] == [(2, "holder:1:aa")]
    assert holder.renew()


def test_a_lost_reply_to_our_own_create_still_takes_the_lease(chroma_memory, name):
    """A create whose reply was lost is retried; the retry's 'already exists' is ours."""
    calls = {"n": 0}

    def flaky_call(fn):
        result = fn()
        if calls["n"] == 0 and "create" in getattr(fn, "__qualname__", ""):
            calls["n"] += 1
            return fn()  # the retry of a create that had landed: 'already exists'
        return result

    a = ChromaLease(chroma_memory, name, ttl_s=30, call=flaky_call, owner="host-a:1:aa")
    a.acquire(wait_s=1)
    assert calls["n"] == 1 and a.held() and a.current().owner == "host-a:1:aa"


def test_the_renewal_thread_keeps_a_short_lease_alive(chroma_memory, name):
    # 3 s, not shorter: the thread renews every ttl/3, and on a loaded CI machine a 0.6 s
    # lease, and once (2026-12-02, late in a full run) a 1.5 s one, lost its renewal slot
    # ("it expired at host-a ... (0s ago)") with nothing wrong.
    a = lease(chroma_memory, name, ttl_s=3.0, owner="host-a:1:aa")
    other = ChromaLease(chroma_memory, name, ttl_s=3.0, skew_s=0.1)
    with a.hold(wait_s=1):
        for _ in range(4):  # 4 x 1.6 s: more than two ttls
            with pytest.raises(IndexStateError, match="host-a:1:aa"):
                other.acquire(wait_s=1.6)
        a.ensure_held("publishing the manifest")
    other.acquire(wait_s=1)  # released on the way out
    assert other.current().owner == other.owner
    other.release()


def test_the_renewal_thread_notices_a_takeover(chroma_memory, name):
    # 1.5 s, as above: with 0.6 s a loaded CI machine ran the renewal late, and the lease was
    # lost to its own expiry ("it expired at host-a ...") before the takeover could be seen.
    a = lease(chroma_memory, name, ttl_s=1.5, owner="host-a:1:aa")
    with a.hold(wait_s=1):
        lease(chroma_memory, name, Clock(time.time() + 100), owner="host-b:2:bb").acquire(wait_s=1)
        deadline = time.monotonic() + 5
        while a.held() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not a.held()
        with pytest.raises(IndexStateError, match="host-b:2:bb"):
            a.ensure_held("publishing the manifest")


# ----- the pipeline holds it in server mode -------------------------------------------------
def test_a_server_mode_ingest_holds_and_releases_the_lease(make_assistant, seeds_copy, chroma_memory):
    assistant = make_assistant(chroma_url="http://unused.invalid:1")
    seen = []
    assistant.ingest([seeds_copy], progress=lambda *a: seen.append(
        ChromaLease(chroma_memory, assistant.settings.collection, ttl_s=1).current()))
    assert seen and all(s is not None and s.expires_at > 0 for s in seen)  # held while writing
    after = ChromaLease(chroma_memory, assistant.settings.collection, ttl_s=1).current()
    assert after is not None and after.expires_at == 0 and after.owner == seen[0].owner  # released


def test_a_server_mode_ingest_that_lost_its_lease_does_not_publish(make_assistant, seeds_copy, chroma_memory):
    assistant = make_assistant(chroma_url="http://unused.invalid:1")
    collection = assistant.settings.collection
    thief = ChromaLease(chroma_memory, collection, ttl_s=30, clock=lambda: time.time() + 100, owner="thief:9:ff")

    def take_over(done: int, total: int, doc_id: str) -> None:
        if thief.current().owner != "thief:9:ff":
            thief.acquire(wait_s=1)

    with pytest.raises(IndexStateError, match="thief:9:ff"):
        assistant.ingest([seeds_copy], progress=take_over)
    assert assistant.index.load_stored_manifest() is None  # nothing published
    assert thief.current().owner == "thief:9:ff"  # the loser did not release the thief's lease


def test_embedded_mode_takes_no_lease(make_assistant, seeds_copy, chroma_memory):
    assistant = make_assistant()
    report = assistant.ingest([seeds_copy])
    assert sorted(report.added) == [STORY, EXPLAINER]
    prefix = lease_prefix(assistant.settings.collection)
    assert not [c for c in chroma_memory.list_collections() if c.name.startswith(prefix)]
