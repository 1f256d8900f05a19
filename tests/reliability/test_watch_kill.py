"""A folder watcher killed (-9) in the middle of a burst of edits catches up when restarted.

A real ``assistant ingest --watch`` (real encoders, embedded Chroma) follows a
generated folder; a burst of edits, additions, renames and deletions runs while
it applies batches, and it is killed while it holds the ingest lock (writing)
when that can be caught, otherwise mid-burst. The burst finishes with nothing
watching; the watcher is restarted and left to settle. Its index must then be
the index a fresh ingest of the folder builds: the same documents, chunk ids
and chunk texts, and nothing orphaned or missing.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.integration.test_watch import Watcher
from tests.reliability.conftest import record, subprocess_env
from tests.reliability.corpus import make_corpus, seed_sentences

pytestmark = pytest.mark.integration

N_DOCS = 30
BURST_S = 4.0
# A continuous burst is gathered for watchfiles' debounce (1.6 s), then applied: the kill waits
# for a write in progress until this long into the burst.
KILL_BY_S = 3.5

_DUMP = """
import json, sys
from assistant import Assistant
a = Assistant(index_dir=sys.argv[1], llm="extractive")
m = a.index.manifest()
got = a.index.collection.get(include=["documents"])
print(json.dumps({"docs": {d: e.hash for d, e in m.documents.items()},
                  "chunks": dict(zip(got["ids"], got["documents"])),
                  "listed": sorted(c for e in m.documents.values() for c in e.chunk_ids)}))
"""


def _dump(index_dir: Path) -> dict:
    out = subprocess.run([sys.executable, "-c", _DUMP, str(index_dir)], capture_output=True, text=True,
                         env=subprocess_env(index_dir), cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def _lock_held(lock: Path) -> bool:
    """True when some process holds ``lock`` with flock (read from /proc/locks)."""
    try:
        inode = lock.stat().st_ino
        return any(line.split()[1] == "FLOCK" and line.split()[5].endswith(f":{inode}")
                   for line in Path("/proc/locks").read_text().splitlines())
    except (OSError, IndexError):
        return False


def _burst(folder: Path, stop_at: float, log: list[str]) -> None:
    """Edit, add, rename and delete files at random until ``stop_at``."""
    rng = random.Random(7)
    sentences = seed_sentences()
    n = 0
    while time.monotonic() < stop_at:
        files = sorted(folder.glob("*.txt"))
        path = rng.choice(files)
        kind = rng.choices(["edit", "add", "rename", "delete"], weights=[6, 2, 1, 1])[0]
        if kind == "edit":
            with path.open("a", encoding="utf-8") as fh:
                fh.write(f"\nUpdate {n}: {rng.choice(sentences)}\n")
        elif kind == "add":
            (folder / f"new{n:03d}.txt").write_text(f"New dispatch {n}\n\n{rng.choice(sentences)}\n", encoding="utf-8")
        elif kind == "rename":
            path.rename(folder / f"moved{n:03d}.txt")
        elif len(files) > 10:
            path.unlink()
        log.append(f"{kind} {path.name}")
        n += 1
        time.sleep(0.02)


@pytest.mark.timeout(240)
def test_a_watcher_killed_mid_burst_catches_up_to_a_fresh_ingest(tmp_path):
    folder, index_dir, fresh_dir = tmp_path / "docs", tmp_path / "index", tmp_path / "fresh"
    make_corpus(folder, N_DOCS)
    started = time.monotonic()
    watcher = Watcher(folder, index_dir)
    try:
        watcher.wait_for(lambda r: len(r["added"]) == N_DOCS, 90)
        ops: list[str] = []
        burst_start = time.monotonic()
        writer = threading.Thread(target=_burst, args=(folder, burst_start + BURST_S, ops))
        writer.start()
        lock = index_dir / ".ingest.lock"
        while time.monotonic() - burst_start < KILL_BY_S and not _lock_held(lock):
            time.sleep(0.002)
        during_write = _lock_held(lock)
        os.kill(watcher.proc.pid, signal.SIGKILL)
        killed_at = round(time.monotonic() - burst_start, 2)
        watcher.proc.wait(timeout=20)
        applied_before_kill = watcher.batches.qsize()
        writer.join()
    finally:
        watcher.kill()
    assert watcher.proc.returncode == -signal.SIGKILL

    # The fresh ingest of the final folder runs beside the restarted watcher (another index).
    fresh = subprocess.Popen([sys.executable, "-m", "assistant.cli", "ingest", "--json", str(folder)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=subprocess_env(fresh_dir), cwd=ROOT)
    restarted = Watcher(folder, index_dir)
    try:
        caught_up, _ = restarted.wait_for(lambda r: True, 90)  # the catch-up batch comes first
        time.sleep(1.5)  # nothing changes any more: any further batch would show here
        later = restarted.batches.qsize()
    finally:
        code, err = restarted.interrupt()
    assert code == 0, err
    _, fresh_err = fresh.communicate(timeout=180)
    assert fresh.returncode == 0, fresh_err[-2000:]

    watched, rebuilt = _dump(index_dir), _dump(fresh_dir)
    state = {"documents": len(watched["docs"]), "manifest_chunks": len(watched["listed"]),
             "chroma_chunks": len(watched["chunks"]),
             "orphans_in_chroma": len(set(watched["chunks"]) - set(watched["listed"])),
             "missing_from_chroma": len(set(watched["listed"]) - set(watched["chunks"]))}
    record("watch", "kill -9 mid-burst, restart",
           documents=N_DOCS, burst_ops=len(ops), killed_after_s=killed_at, killed_while_writing=during_write,
           batches_before_kill=applied_before_kill, catch_up=caught_up["report"] and {
               k: len(caught_up["report"][k]) for k in ("added", "updated", "removed", "skipped")},
           batches_after_catch_up=later, state=state, total_s=round(time.monotonic() - started, 1),
           same_as_fresh_ingest=watched["chunks"] == rebuilt["chunks"] and watched["docs"] == rebuilt["docs"])
    assert watched["docs"] == rebuilt["docs"]  # same documents with the same content hashes
    assert watched["listed"] == sorted(rebuilt["chunks"])  # the manifest lists the fresh chunk ids
    assert watched["chunks"] == rebuilt["chunks"]  # Chroma holds exactly those ids, with the same texts
    assert state["orphans_in_chroma"] == state["missing_from_chroma"] == 0, state
