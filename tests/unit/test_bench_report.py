"""The benchmark report is well formed (benchmarks themselves are not tests).

The committed ``bench/reports/latest.json`` has every key the performance
issue names and its targets agree with its figures. That ``bench/run.py
--tiny`` runs end to end (a subprocess, ~14 s) is checked in
``tests/integration/test_bench_run.py``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench"
sys.path.insert(0, str(BENCH))

from schema import REQUIRED_TOP, evaluate_targets, validate_report  # noqa: E402


def test_committed_report_has_every_key_and_consistent_targets():
    path = BENCH / "reports" / "latest.json"
    if not path.exists():
        pytest.skip("no committed benchmark report yet")
    report = json.loads(path.read_text())
    assert validate_report(report, partial=False) == []
    for key in REQUIRED_TOP:
        assert key in report
    assert report["meta"]["mode"] in ("full", "quick")
    # The stored pass/fail marks are the ones the figures give.
    assert [t["pass"] for t in report["targets"]] == [t["pass"] for t in evaluate_targets(report)]
    assert (BENCH / "reports" / "latest.md").read_text().startswith("# Benchmark report")


def test_validate_report_names_what_is_missing():
    problems = validate_report({"meta": {}, "retrieval": {"1000": {"hybrid": {"p50_ms": 1.0}}}})
    assert any("ingest_vs_raw_encode_ratio" in p for p in problems)
    assert any("retrieval.1000.dense" in p for p in problems)
