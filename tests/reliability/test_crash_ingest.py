"""Crash-safe ingest: kill -9 a real ``assistant ingest`` at several points, then ingest again.

Uses the real MiniLM encoder and the embedded Chroma store in a temp index.
After the last, uninterrupted ingest the index must be consistent: Chroma
holds exactly the chunks the manifest lists (no orphans, no duplicates, none
missing), every chunk's text is its document's text at its offsets, and
every document is found by ``Assistant.search``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.reliability.conftest import inspect_index, record, subprocess_env
from tests.reliability.corpus import make_corpus

pytestmark = pytest.mark.integration

N_DOCS = 150


def _manifest_docs(index_dir: Path) -> int:
    try:
        return len(json.loads((index_dir / "manifest.json").read_text(encoding="utf-8"))["documents"])
    except (OSError, ValueError, KeyError):
        return 0


def _start_ingest(paths: list[Path], index_dir: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "assistant.cli", "ingest", "--json", *map(str, paths)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=subprocess_env(index_dir), cwd=ROOT,
    )


def _kill_when(proc: subprocess.Popen, ready, timeout: float) -> bool:
    """SIGKILL ``proc`` as soon as ``ready()`` holds; False if it finished first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None and not ready():
        time.sleep(0.02)
    if proc.poll() is not None:
        proc.communicate()
        return False
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    return True


def test_kill_9_at_several_points_then_reingest_is_consistent(tmp_path):
    corpus = tmp_path / "corpus"
    make_corpus(corpus, N_DOCS)
    index_dir = tmp_path / "index"
    started_at = time.monotonic()
    # (label, condition for the kill). Time points land in start-up and model
    # loading; document counts land between and inside Chroma writes.
    points = [
        ("after 1 s", lambda t0: lambda: time.monotonic() - t0 > 1.0),
        ("after 3 s", lambda t0: lambda: time.monotonic() - t0 > 3.0),
        ("mid-way (a third of the documents recorded)", lambda t0: lambda: _manifest_docs(index_dir) >= N_DOCS // 3),
        ("two-thirds of the way", lambda t0: lambda: _manifest_docs(index_dir) >= 2 * N_DOCS // 3),
    ]
    kills = []
    for label, condition in points:
        t0 = time.monotonic()
        proc = _start_ingest([corpus], index_dir)
        killed = _kill_when(proc, condition(t0), timeout=150)
        kills.append({"point": label, "killed": killed, "after_s": round(time.monotonic() - t0, 2),
                      "documents_recorded": _manifest_docs(index_dir)})
    assert sum(k["killed"] for k in kills) >= 3, kills

    t0 = time.monotonic()
    final = _start_ingest([corpus], index_dir)
    out, err = final.communicate(timeout=300)
    assert final.returncode == 0, err[-3000:]
    report = json.loads(out)
    resumed_s = round(time.monotonic() - t0, 2)
    assert report["errors"] == []
    assert len(report["added"]) + len(report["updated"]) + len(report["skipped"]) == N_DOCS

    state = inspect_index(index_dir, n_markers=N_DOCS)
    record(
        "crash_safe_ingest", "kill -9 during ingest",
        documents=N_DOCS, kills=kills, final_ingest=report["added"] and
        f"{len(report['added'])} added, {len(report['updated'])} updated, {len(report['skipped'])} skipped "
        f"(already complete), {report['chunks_added']} chunks, {resumed_s}s" or f"all {N_DOCS} skipped",
        state=state, total_s=round(time.monotonic() - started_at, 1),
        lost=len(state["unanswerable"]) + state["missing_from_chroma"],
    )
    assert state["documents"] == N_DOCS
    assert state["manifest_chunks"] == state["chroma_chunks"]
    for key in ("duplicate_ids_in_manifest", "duplicate_spans_in_chroma", "orphans_in_chroma",
                "missing_from_chroma", "wrong_owner", "chunk_text_differs_from_document", "empty_hash_entries"):
        assert state[key] == 0, (key, state)
    assert state["unanswerable"] == [], state["unanswerable"]


def test_two_ingests_at_once_never_interleave(tmp_path):
    """Both start together; the lock makes one wait (or refuses it clearly); the index stays whole."""
    corpus = tmp_path / "corpus"
    make_corpus(corpus, 40)
    index_dir = tmp_path / "index"
    first, second = _start_ingest([corpus], index_dir), _start_ingest([corpus], index_dir)
    outcomes = []
    for proc in (first, second):
        out, err = proc.communicate(timeout=300)
        if proc.returncode == 0:
            rep = json.loads(out)
            outcomes.append({"exit": 0, "added": len(rep["added"]), "skipped": len(rep["skipped"]),
                             "chunks_added": rep["chunks_added"]})
        else:
            outcomes.append({"exit": proc.returncode, "message": err.strip().splitlines()[-1]})
    state = inspect_index(index_dir, n_markers=40)
    record("crash_safe_ingest", "two ingests at once", outcomes=outcomes, state=state)
    wrote = [o for o in outcomes if o["exit"] == 0 and o["added"]]
    assert len(wrote) == 1, outcomes  # exactly one did the work
    other = next(o for o in outcomes if o is not wrote[0])
    if other["exit"] == 0:
        # It waited for the lock, then found everything already indexed.
        assert other["added"] == 0 and other["skipped"] == 40 and other["chunks_added"] == 0
    else:
        assert other["exit"] == 2 and "Another ingest is writing" in other["message"]
    assert state["documents"] == 40 and state["orphans_in_chroma"] == 0 and state["missing_from_chroma"] == 0
    assert state["manifest_chunks"] == state["chroma_chunks"] and state["unanswerable"] == []
