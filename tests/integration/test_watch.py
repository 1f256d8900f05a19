"""``assistant ingest --watch`` and ``serve --watch`` as real processes (real encoders, embedded Chroma).

The watcher's batches are read from its ``--json`` output as they are applied;
what the index holds is checked from other processes (``assistant ask``, the
inspector of tests/reliability), as a user would see it.
"""

from __future__ import annotations

import json
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import EXPLAINER, ROOT, SEEDS, STORY
from tests.reliability.conftest import cli, free_port, inspect_index, subprocess_env

pytestmark = pytest.mark.integration

START_S = 60  # model loads and the catch-up ingest of the seeds
SYNC_S = 8  # a change must show within this long
NOTE = "Gallium note\n\nThe Zorblax gallium refinery in Lagos doubled its output in May 2025.\n"


class Watcher:
    """``assistant ingest --watch --json FOLDER`` in a subprocess; its batches arrive on a queue."""

    def __init__(self, folder: Path, index_dir: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "assistant.cli", "ingest", "--watch", "--json", str(folder)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=subprocess_env(index_dir), cwd=ROOT,
        )
        self.batches: queue.Queue[dict] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith("{"):
                self.batches.put(json.loads(line))

    def wait_for(self, check, timeout: float) -> tuple[dict, float]:
        """The first batch for which ``check(report)`` holds, and how long it took to come."""
        started = time.monotonic()
        seen = []
        while time.monotonic() - started < timeout:
            try:
                batch = self.batches.get(timeout=0.2)
            except queue.Empty:
                assert self.proc.poll() is None, f"watcher exited {self.proc.returncode}: {self.stderr()}"
                continue
            seen.append(batch)
            if check(batch["report"]):
                return batch, time.monotonic() - started
        raise AssertionError(f"no matching batch within {timeout}s; saw {seen}")

    def interrupt(self) -> tuple[int, str]:
        self.proc.send_signal(signal.SIGINT)
        try:
            code = self.proc.wait(timeout=20)
        finally:
            self.kill()
        return code, self.stderr()

    def stderr(self) -> str:
        if self.proc.poll() is None or self.proc.stderr is None:
            return ""
        return self.proc.stderr.read()[-3000:]

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=20)


@pytest.mark.timeout(180)
def test_ingest_watch_follows_adds_edits_renames_and_deletes(tmp_path):
    folder, index_dir = tmp_path / "docs", tmp_path / "index"
    shutil.copytree(SEEDS, folder)
    watcher = Watcher(folder, index_dir)
    try:
        watcher.wait_for(lambda r: sorted(r["added"]) == sorted([STORY, EXPLAINER]), START_S)
        note = folder / "note.txt"
        note.write_text(NOTE, encoding="utf-8")
        _, added_s = watcher.wait_for(lambda r: r["added"] == ["note"], SYNC_S)
        note.write_text(NOTE + "\nThe refinery hired 300 people in June.\n", encoding="utf-8")
        edited, _ = watcher.wait_for(lambda r: r["updated"] == ["note"], SYNC_S)
        note.rename(folder / "gallium.md")
        renamed, _ = watcher.wait_for(lambda r: r["added"] == ["gallium"], SYNC_S)
        (folder / f"{STORY}.txt").unlink()
        watcher.wait_for(lambda r: r["removed"] == [STORY], SYNC_S)

        # Another process sees the watched state while the watcher runs.
        asked = cli(["ask", "--json", "Which refinery doubled its gallium output?"], subprocess_env(index_dir), timeout=120)
        assert asked.returncode == 0, asked.stderr[-2000:]
        answer = json.loads(asked.stdout)
        assert not answer["abstained"] and "Zorblax" in answer["text"], answer["text"]
        assert {c["source"] for c in answer["citations"]} == {"gallium"}
    finally:
        code, err = watcher.interrupt()
    assert code == 0 and "stopped watching" in err, (code, err)
    assert edited["report"]["chunks_embedded"] >= 1
    assert renamed["report"]["removed"] == ["note"] and renamed["report"]["chunks_embedded"] == 0
    assert added_s < SYNC_S
    state = inspect_index(index_dir)
    assert state["documents"] == 2 and state["orphans_in_chroma"] == 0 and state["missing_from_chroma"] == 0
    docs = cli(["documents"], subprocess_env(index_dir), timeout=120)
    assert sorted(line.split("\t")[0] for line in docs.stdout.splitlines()) == sorted([EXPLAINER, "gallium"])


@pytest.mark.timeout(240)
def test_serve_watch_answers_reflect_a_change_within_seconds(tmp_path):
    folder, index_dir = tmp_path / "docs", tmp_path / "index"
    shutil.copytree(SEEDS, folder)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "server.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "assistant.cli", "serve", "--port", str(port), "--watch", str(folder)],
            stdout=log, stderr=subprocess.STDOUT, env=subprocess_env(index_dir), cwd=ROOT,
        )
    try:
        deadline = time.monotonic() + 180
        while "catch-up: added" not in log_path.read_text() or not _healthy(url):
            assert proc.poll() is None, log_path.read_text()[-3000:]
            assert time.monotonic() < deadline, log_path.read_text()[-3000:]
            time.sleep(0.5)
        question = {"question": "Which refinery doubled its gallium output in May 2025?"}
        saved = time.monotonic()
        (folder / "note.txt").write_text(NOTE, encoding="utf-8")
        while True:
            body = httpx.post(f"{url}/api/ask", json=question, timeout=60).json()
            if any(c["source"] == "note" for c in body.get("citations", [])):
                break
            assert time.monotonic() - saved < SYNC_S, (body.get("text"), log_path.read_text()[-2000:])
            time.sleep(0.2)
        assert "Zorblax" in body["text"]
        assert "sync: added note" in log_path.read_text()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/api/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
