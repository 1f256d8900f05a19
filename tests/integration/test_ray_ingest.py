"""``assistant ingest --ray`` on a real local Ray (2 CPUs), against the single-process ingest as oracle.

- The CLI with the real index encoder: seeds plus a generated corpus of a
  few hundred chunks ingested with ``--ray`` equals a single-process ingest
  into another index folder (chunk ids, texts, metadata, vectors within
  1e-5, manifest entries, report); a re-run skips every file.
- A driver killed with SIGKILL mid-ingest, then run again: no duplicates,
  equal to a fresh ingest.
- An embedding actor killed with SIGKILL mid-ingest: Ray restarts it and
  the run finishes (or fails naming the retries), and a re-run leaves the
  index a fresh ingest builds.
- The same against a ``chroma run`` server (manifest and lease in the server).

The kill tests run ``tests/integration/ray_driver.py`` with a deterministic
fake encoder that takes a fixed time per chunk, so the ingest is long enough
to be killed mid-way on any machine.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT, SEEDS
from tests.index_state import assert_same_index
from tests.integration.ray_driver import open_assistant

pytestmark = pytest.mark.integration
sys.path.insert(0, str(ROOT / "bench"))
from corpus import write_corpus  # noqa: E402

KILL_CHUNKS = 1200  # fake-encoder corpus: 3 write windows of 512, so checkpoints land mid-way
DELAY_S = 0.01  # per chunk and actor: ~6 s of encoding on 2 actors


def _env(index_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ASSISTANT_", "RAY_"))}
    env.update(ASSISTANT_INDEX_DIR=str(index_dir), ASSISTANT_LLM="extractive", HF_HUB_OFFLINE="1",
               ASSISTANT_RAY_WORKERS="2", **extra)
    return env


def _cli(args: list[str], index_dir: Path, timeout: float = 170) -> dict:
    done = subprocess.run([sys.executable, "-m", "assistant.cli", "ingest", "--json", *args],
                          env=_env(index_dir), cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    return json.loads(done.stdout)


def _driver(index_dir: Path, corpus: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.integration.ray_driver", str(index_dir), str(corpus), "--delay", str(DELAY_S), *extra],
        env=_env(index_dir), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def _finish(proc: subprocess.Popen, timeout: float = 150) -> tuple[int, dict | None, str]:
    out, err = proc.communicate(timeout=timeout)
    report = json.loads(out.strip().splitlines()[-1]) if proc.returncode == 0 and out.strip() else None
    return proc.returncode, report, err


def _without_seconds(report: dict) -> dict:
    return {k: v for k, v in report.items() if k != "seconds"}


def _children() -> dict[int, int]:
    """pid -> parent pid of every process."""
    out = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                out[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    return out


def _descendants(pid: int) -> list[int]:
    parents = _children()
    found, frontier = [], [pid]
    while frontier:
        current = frontier.pop()
        kids = [p for p, parent in parents.items() if parent == current]
        found += kids
        frontier += kids
    return found


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0


def _kill_all(pids: list[int]) -> None:
    """SIGKILL the processes this test's driver started that outlived it (Ray's agents linger ~1 min)."""
    for pid in pids:
        if "ray" not in _cmdline(pid):  # gone, and the pid perhaps reused by someone else's process
            continue
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _recorded(index_dir: Path) -> int:
    try:
        return len(json.loads((index_dir / "manifest.json").read_text(encoding="utf-8"))["documents"])
    except (OSError, ValueError, KeyError):
        return 0


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """The seeds and ~200 chunks of generated explainers (real encoder: a minute per ingest here)."""
    folder = tmp_path_factory.mktemp("ray-corpus")
    shutil.copytree(SEEDS, folder / "seeds")
    write_corpus(folder / "generated", 200, seed=3)
    return folder


@pytest.fixture(scope="module")
def big_corpus(tmp_path_factory) -> Path:
    """~1,200 chunks for the fake, slow encoder."""
    folder = tmp_path_factory.mktemp("ray-big")
    shutil.copytree(SEEDS, folder / "seeds")
    write_corpus(folder / "generated", KILL_CHUNKS, seed=4)
    return folder


@pytest.fixture(scope="module")
def oracle(big_corpus, tmp_path_factory):
    """A fresh single-process ingest of ``big_corpus`` with the fake encoder."""
    index_dir = tmp_path_factory.mktemp("oracle")
    code, report, err = _finish(_driver(index_dir, big_corpus, "--single"))
    assert code == 0, err[-3000:]
    return open_assistant(index_dir), report


@pytest.mark.timeout(400)
def test_ingest_ray_builds_the_index_a_single_process_ingest_builds(corpus, tmp_path):
    single = _cli([str(corpus)], tmp_path / "single")
    ray = _cli(["--ray", str(corpus)], tmp_path / "ray")
    assert _without_seconds(ray) == _without_seconds(single)
    assert len(ray["added"]) > 10 and ray["chunks_added"] > 150 and ray["errors"] == []
    from assistant import Assistant

    assert_same_index(Assistant(index_dir=tmp_path / "single", llm="extractive"),
                      Assistant(index_dir=tmp_path / "ray", llm="extractive"))
    again = _cli(["--ray", str(corpus)], tmp_path / "ray")
    assert sorted(again["skipped"]) == sorted(ray["added"])
    assert again["added"] == again["updated"] == again["removed"] == [] and again["chunks_embedded"] == 0


@pytest.mark.timeout(300)
def test_a_driver_killed_mid_ingest_resumes_without_duplicates(big_corpus, oracle, tmp_path):
    fresh, full = oracle
    index_dir = tmp_path / "index"
    proc = _driver(index_dir, big_corpus)
    started = time.monotonic()
    spawned: set[int] = set()
    while proc.poll() is None and _recorded(index_dir) == 0 and time.monotonic() - started < 150:
        spawned.update(_descendants(proc.pid))
        time.sleep(0.05)
    assert proc.poll() is None, "the ingest finished before it could be killed: " + proc.stderr.read()[-2000:]
    spawned.update(_descendants(proc.pid))
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    _kill_all(sorted(spawned))
    recorded = _recorded(index_dir)
    assert 0 < recorded < len(full["added"])  # killed after a checkpoint, before the end
    code, report, err = _finish(_driver(index_dir, big_corpus))
    assert code == 0, err[-3000:]
    assert len(report["skipped"]) == recorded and len(report["added"]) == len(full["added"]) - recorded
    assert_same_index(fresh, open_assistant(index_dir))


@pytest.mark.timeout(300)
def test_an_embedding_actor_killed_mid_ingest_is_restarted_or_named(big_corpus, oracle, tmp_path):
    fresh, full = oracle
    index_dir = tmp_path / "index"
    proc = _driver(index_dir, big_corpus)
    started = time.monotonic()
    victim = None
    while proc.poll() is None and victim is None and time.monotonic() - started < 150:
        actors = [p for p in _descendants(proc.pid) if "EmbedChunks" in _cmdline(p)]
        busy = [p for p in actors if _cpu_seconds(p) > 0.5]  # loaded, and encoding
        victim = busy[0] if busy else None
        time.sleep(0.05)
    assert victim is not None, "no embedding actor was seen at work"
    os.kill(victim, signal.SIGKILL)
    code, report, err = _finish(proc)
    print(f"actor {victim} killed; the run exited {code}")
    if code == 0:  # restarted, its batch retried: the run finished
        assert _without_seconds(report) == _without_seconds(full)
    else:  # or it failed past its retries, saying so, and a re-run resumes
        assert "The Ray ingest failed" in err and "run the same command again to resume" in err, err[-3000:]
        code, report, err = _finish(_driver(index_dir, big_corpus))
        assert code == 0, err[-3000:]
    again_code, again, err = _finish(_driver(index_dir, big_corpus))
    assert again_code == 0 and again["added"] == again["updated"] == [] and again["chunks_added"] == 0, err[-2000:]
    assert_same_index(fresh, open_assistant(index_dir))


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory):
    from tests.integration.test_backends_chroma import CHROMA
    from tests.integration.test_backends_llm import ServerProcess, free_port

    port = free_port()
    root = tmp_path_factory.mktemp("chroma-ray")
    server = ServerProcess(
        [str(CHROMA), "run", "--path", str(root / "data"), "--host", "127.0.0.1", "--port", str(port)],
        f"http://127.0.0.1:{port}/api/v2/heartbeat",
        root / "server.log",
    )
    server.start()
    server.url = f"http://127.0.0.1:{port}"  # type: ignore[attr-defined]
    yield server
    server.stop()


@pytest.mark.timeout(300)
def test_on_a_chroma_server_the_ray_ingest_equals_a_single_process_one(chroma_server, big_corpus, tmp_path):
    url = chroma_server.url
    code, single, err = _finish(_driver(tmp_path / "a", big_corpus, "--single", "--chroma-url", url, "--collection", "single"))
    assert code == 0, err[-3000:]
    code, ray, err = _finish(_driver(tmp_path / "b", big_corpus, "--chroma-url", url, "--collection", "viaray"))
    assert code == 0, err[-3000:]
    assert _without_seconds(ray) == _without_seconds(single)
    assert not (tmp_path / "b" / "collections" / "viaray" / "manifest.json").exists()  # it is in the server
    assert_same_index(open_assistant(tmp_path / "a", url, "single"), open_assistant(tmp_path / "b", url, "viaray"))


@pytest.mark.timeout(200)
def test_an_unreachable_cluster_is_named_with_the_fix(tmp_path):
    done = subprocess.run([sys.executable, "-m", "assistant.cli", "ingest", "--ray", "ray://127.0.0.1:9", str(SEEDS)],
                          env=_env(tmp_path / "index"), cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: Cannot join the Ray cluster at 'ray://127.0.0.1:9' (ConnectionError: ray client connection timeout); "
        "check that it is up and the address (--ray ADDRESS or ASSISTANT_RAY_ADDRESS: ray://HOST:10001 for Ray Client, "
        "HOST:6379 on a cluster node), or use --ray alone for a local Ray."
    ]
