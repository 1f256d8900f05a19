"""Small helpers shared by the benchmark scripts: timing, percentiles, RSS, disk size."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
BIN = Path(PYTHON).parent


def percentile(values: list[float], q: float) -> float:
    """Linear-interpolated percentile (q in 0..100) of a non-empty list."""
    data = sorted(values)
    if len(data) == 1:
        return data[0]
    pos = (len(data) - 1) * q / 100.0
    lo = int(pos)
    hi = min(lo + 1, len(data) - 1)
    return data[lo] + (data[hi] - data[lo]) * (pos - lo)


def summary_ms(seconds: list[float]) -> dict:
    ms = [s * 1000 for s in seconds]
    return {
        "p50_ms": round(percentile(ms, 50), 3),
        "p95_ms": round(percentile(ms, 95), 3),
        "mean_ms": round(statistics.fmean(ms), 3),
        "n": len(ms),
    }


def rss_mb() -> dict:
    """Current and peak resident memory of this process, from /proc (Linux)."""
    out = {}
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(("VmRSS:", "VmHWM:")):
                key = "rss_mb" if line.startswith("VmRSS") else "peak_rss_mb"
                out[key] = round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return out


def dir_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())


def bench_env(**extra: str) -> dict:
    env = dict(os.environ)
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", ANONYMIZED_TELEMETRY="False", TOKENIZERS_PARALLELISM="false")
    env.update({k: str(v) for k, v in extra.items()})
    return env


def run_json(args: list[str], env: dict | None = None, timeout: float = 3600) -> tuple[dict, float]:
    """Run a command that prints one JSON object last on stdout; return it and the wall time."""
    t0 = time.perf_counter()
    proc = subprocess.run(args, capture_output=True, text=True, env=env or bench_env(), timeout=timeout, cwd=ROOT)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:4])}... exited {proc.returncode}: {proc.stderr[-2000:]}")
    text = proc.stdout.strip()
    start = text.rfind("\n{")
    return json.loads(text[start + 1 :] if start >= 0 else text), wall


def timed(fn, *args, **kwargs):
    t0 = time.perf_counter()
    value = fn(*args, **kwargs)
    return value, time.perf_counter() - t0


def make_embeddings(backend: str):
    """The encoder a benchmark measures: ``fake`` (hashing, for --tiny runs) or a MiniLM backend."""
    if backend == "fake":
        sys.path.insert(0, str(ROOT))
        from tests.fakes import HashingEmbeddings

        fake = HashingEmbeddings(dim=384)
        fake.model_name = "all-MiniLM-L6-v2"
        return fake
    from assistant.models.embeddings import MiniLMEmbeddings

    return MiniLMEmbeddings(backend=backend)


def make_index_embeddings(backend: str):
    """The chunk index's encoder as the product configures it (e5 by default), or the fake one."""
    if backend == "fake":
        return make_embeddings("fake")
    from assistant.models.embeddings import get_embeddings
    from assistant.settings import Settings

    settings = Settings(embedding_backend=backend)
    return get_embeddings(settings.model_copy(update={"embedding_backend": settings.index_backend}))


def git_commit() -> str | None:
    """The checkout's short commit, for a report's header (None outside a git checkout)."""
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              cwd=ROOT, timeout=10).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def write_report(out: Path, name: str, report: dict, markdown: str) -> None:
    """``out/<name>.json`` and ``out/<name>.md``, the pair every benchmark leaves."""
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / f"{name}.md").write_text(markdown)
