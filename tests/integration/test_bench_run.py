"""``bench/run.py --tiny`` (fake encoder, smallest sizes) runs end to end and writes a valid
JSON + Markdown + PNG report into a temp folder. A whole benchmark process (~14 s): kept out
of the fast unit tests, which check the committed report (``tests/unit/test_bench_report.py``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench"
sys.path.insert(0, str(BENCH))

from schema import validate_report  # noqa: E402

pytestmark = pytest.mark.integration


@pytest.mark.timeout(300)
def test_tiny_benchmark_run_writes_a_valid_report(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(BENCH / "run.py"), "--tiny", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=280,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads((tmp_path / "latest.json").read_text())
    assert validate_report(report) == []
    assert all(row["hybrid"]["p95_ms"] > 0 for row in report["retrieval"].values())
    assert (tmp_path / "latest.md").read_text().count("|") > 20
    assert (tmp_path / "retrieval_latency.png").stat().st_size > 1000
