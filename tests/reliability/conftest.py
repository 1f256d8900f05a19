"""Fixtures for the reliability tests: a results recorder and subprocess helpers.

Every test records what it did (loads held, faults injected, bad inputs tried,
what was lost) in ``results.json`` beside this file; ``report.py`` turns that
into ``docs/reliability.md``.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT

RESULTS = Path(os.environ.get("RELIABILITY_RESULTS", Path(__file__).with_name("results.json")))
_lock = threading.Lock()


def record(section: str, name: str, **data: Any) -> None:
    """Merge one result into the results file (read-modify-write, so partial runs keep the rest)."""
    with _lock:
        try:
            results = json.loads(RESULTS.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            results = {}
        data["recorded_at"] = time.strftime("%Y-%m-%d %H:%M:%S")
        results.setdefault(section, {})[name] = data
        tmp = RESULTS.with_suffix(".tmp")
        tmp.write_text(json.dumps(results, indent=1, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
        tmp.replace(RESULTS)


@pytest.fixture
def recorder():
    return record


def subprocess_env(index_dir: Path, **extra: str) -> dict[str, str]:
    """Environment for an ``assistant`` subprocess on a private index.

    One torch thread per process: with two cores shared by several processes,
    torch's default thread pool oversubscribes the CPU and one MiniLM call
    went from ~0.1 s to ~1.4 s in our measurements.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    env.update(
        ASSISTANT_INDEX_DIR=str(index_dir),
        ASSISTANT_LLM="extractive",
        OMP_NUM_THREADS="1",
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        ANONYMIZED_TELEMETRY="False",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def cli(args: list[str], env: dict[str, str], timeout: float = 180, **kw: Any) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "assistant.cli", *args],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=timeout, **kw,
    )


def inspect_index(index_dir: Path, n_markers: int = 0) -> dict[str, Any]:
    """Consistency figures of an index, computed in a separate process."""
    out = subprocess.run(
        [sys.executable, "-m", "tests.reliability.inspect_index", str(index_dir), str(n_markers)],
        capture_output=True, text=True, env=subprocess_env(index_dir), cwd=ROOT, timeout=240,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``python -m assistant.cli serve`` on 127.0.0.1 in a subprocess, its log captured to a file."""

    def __init__(self, index_dir: Path, log_path: Path, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self._log = open(log_path, "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "assistant.cli", "serve", "--host", "127.0.0.1", "--port", str(self.port)],
            stdout=self._log, stderr=subprocess.STDOUT, env=subprocess_env(index_dir, **env), cwd=ROOT,
        )

    def wait_ready(self, timeout: float = 180) -> None:
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited {self.proc.returncode}: {self.log()[-3000:]}")
            try:
                if httpx.get(self.url + "/api/health", timeout=2).status_code in (200, 401):  # 401: token on
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise AssertionError(f"server not ready in {timeout}s: {self.log()[-3000:]}")

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._log.close()
