"""Two machines, one ``chroma run`` server: ingests into one collection take turns.

Each ``assistant ingest`` runs in its own process with its own index folder,
so the folder's file lock cannot serialize them (that is what two machines
look like); only the server's ingest lease (``store/lease.py``) can. The
lease logs when it is taken and when it is given back, with timestamps, and
the tests read those lines: two ingests started together never hold it at
once, and the index they leave is what one ingest of both folders builds. An
ingest killed with SIGKILL mid-write leaves its lease behind; the next ingest
breaks it once it has expired, and cleans up what the dead one half-wrote.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from assistant.store.lease import CLOCK_SKEW_S, ChromaLease
from assistant.store.manifest import ChromaManifestStore
from tests.conftest import EXPLAINER, ROOT, SEEDS
from tests.integration.chroma_server import running_chroma
from tests.integration.test_backends_chroma import _env

# `assistant ingest --json ...`, with the lease's log lines timestamped on stderr.
INGEST = """
import logging, sys
logging.basicConfig(level=logging.WARNING, format="%(created).3f %(name)s %(levelname)s %(message)s")
logging.getLogger("assistant.store.lease").setLevel(logging.INFO)
from assistant.cli import main
sys.argv = ["assistant", "ingest", "--json", *sys.argv[1:]]
main()
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with running_chroma(tmp_path_factory.mktemp("chroma")) as proc:
        yield proc


def _corpus(folder: Path, tag: str, copies: int, seeds: bool = False) -> Path:
    """``copies`` variants of the explainer (distinct ids and text), plus the seeds when asked."""
    folder.mkdir(parents=True)
    text = (SEEDS / f"{EXPLAINER}.txt").read_text(encoding="utf-8")
    for i in range(copies):
        (folder / f"{tag}_{i}.txt").write_text(f"{tag} briefing {i}\n\n{text}", encoding="utf-8")
    if seeds:
        for path in SEEDS.glob("*.txt"):
            (folder / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    return folder


def _ingest(url: str, index_dir: Path, collection: str, ttl_s: float, log: Path,
            *folders: Path) -> subprocess.Popen:
    env = _env(url, index_dir)
    env.update(ASSISTANT_COLLECTION=collection, ASSISTANT_INGEST_LEASE_TTL_S=str(ttl_s))
    with open(log, "w") as err:
        return subprocess.Popen([sys.executable, "-c", INGEST, *map(str, folders)], env=env, cwd=ROOT,
                                stdout=subprocess.PIPE, stderr=err, text=True)


def _lease_events(log: Path) -> dict[str, list[float]]:
    """When the lease was taken, released, waited for and broken, from one process's log."""
    events: dict[str, list[float]] = {"took": [], "releasing": [], "waiting": [], "breaking": []}
    for line in log.read_text().splitlines():
        parts = line.split(" ", 4)
        if len(parts) == 5 and parts[1] == "assistant.store.lease":
            word = parts[3]
            if word in events:
                events[word].append(float(parts[0]))
    return events


def _finish(proc: subprocess.Popen, log: Path, timeout: float = 120) -> str:
    out, _ = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, out + log.read_text()[-3000:]
    return out


def _stored(url: str, collection: str) -> tuple[set[str], set[str], set[str]]:
    """(document ids, chunk ids the manifest lists, chunk ids in Chroma) of a server collection."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    host, port = url.removeprefix("http://").split(":")
    client = chromadb.HttpClient(host=host, port=int(port), settings=ChromaSettings(anonymized_telemetry=False))
    name = ChromaManifestStore.collection_name(collection)
    manifest = ChromaManifestStore(lambda: client.get_collection(name), lambda fn: fn()).load()
    assert manifest is not None
    chunks = set(client.get_collection(collection).get(include=[])["ids"])
    return set(manifest.documents), manifest.chunk_ids(), chunks


def _lease_of(url: str, collection: str):
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    host, port = url.removeprefix("http://").split(":")
    client = chromadb.HttpClient(host=host, port=int(port), settings=ChromaSettings(anonymized_telemetry=False))
    return ChromaLease(client, collection, ttl_s=1).current()


@pytest.mark.integration
@pytest.mark.timeout(180)
def test_two_machines_ingesting_at_once_take_turns(server, tmp_path):
    first_folder = _corpus(tmp_path / "first", "alpha", 3, seeds=True)
    second_folder = _corpus(tmp_path / "second", "beta", 4)
    logs = [tmp_path / "first.log", tmp_path / "second.log"]
    started = time.time()
    # A short ttl (renewed every 1.7 s) so a holder that did not renew would be broken mid-ingest.
    procs = [
        _ingest(server.url, tmp_path / "machine1", "shared", 5, logs[0], first_folder),
        _ingest(server.url, tmp_path / "machine2", "shared", 5, logs[1], second_folder),
    ]
    for proc, log in zip(procs, logs, strict=True):
        _finish(proc, log)
    events = [_lease_events(log) for log in logs]
    for e in events:
        assert len(e["took"]) == 1 and len(e["releasing"]) == 1, events
        assert not e["breaking"]  # neither lease ever expired: renewals kept them
    spans = sorted((e["took"][0], e["releasing"][0]) for e in events)
    (a_start, a_end), (b_start, b_end) = spans
    assert a_end <= b_start, f"the locked sections overlap: {spans}"
    assert any(e["waiting"] for e in events)  # one really waited for the other
    print(f"\nlocked sections (s after start): {a_start - started:.2f}-{a_end - started:.2f}, "
          f"{b_start - started:.2f}-{b_end - started:.2f}; second waited from "
          f"{min(w for e in events for w in e['waiting']) - started:.2f}")

    docs, listed, stored = _stored(server.url, "shared")
    assert listed == stored  # no orphans, nothing missing
    expected_docs = {p.stem for p in first_folder.glob("*.txt")} | {p.stem for p in second_folder.glob("*.txt")}
    assert docs == expected_docs
    # One ingest of both folders builds the same index.
    log = tmp_path / "single.log"
    _finish(_ingest(server.url, tmp_path / "machine3", "single", 5, log, first_folder, second_folder), log)
    single_docs, single_listed, single_stored = _stored(server.url, "single")
    assert (single_docs, single_listed, single_stored) == (docs, listed, stored)


@pytest.mark.integration
@pytest.mark.timeout(180)
def test_the_lease_of_a_killed_ingest_is_broken_after_it_expires(server, tmp_path):
    folder = _corpus(tmp_path / "docs", "gamma", 6, seeds=True)
    dead_log, next_log = tmp_path / "dead.log", tmp_path / "next.log"
    dead = _ingest(server.url, tmp_path / "machine1", "crash", 3, dead_log, folder)
    deadline = time.monotonic() + 90
    while not _lease_events(dead_log)["took"]:
        assert dead.poll() is None, dead_log.read_text()[-3000:]
        assert time.monotonic() < deadline, "the first ingest never took the lease"
        time.sleep(0.05)
    time.sleep(0.8)  # into the write
    assert dead.poll() is None, "the first ingest finished before it could be killed"
    os.kill(dead.pid, signal.SIGKILL)
    killed_at = time.time()
    dead.wait(10)
    left = _lease_of(server.url, "crash")
    assert left is not None and left.expires_at > time.time()  # held, by nobody alive

    survivor = _ingest(server.url, tmp_path / "machine2", "crash", 30, next_log, folder)
    out = _finish(survivor, next_log)
    events = _lease_events(next_log)
    assert events["breaking"] and events["took"]
    assert events["took"][0] >= left.expires_at + CLOCK_SKEW_S  # only after it expired
    assert left.owner in next_log.read_text()  # the broken lease is named
    assert '"added"' in out
    docs, listed, stored = _stored(server.url, "crash")
    assert docs == {p.stem for p in folder.glob("*.txt")}
    assert listed == stored  # the dead ingest's unrecorded chunks were removed
    print(f"\nthe killed ingest's lease expired {left.expires_at - killed_at:.2f}s after the kill; the next "
          f"ingest broke it {events['took'][0] - left.expires_at:.2f}s after that and finished "
          f"{events['releasing'][0] - killed_at:.2f}s after the kill")
