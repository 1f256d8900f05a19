"""The eval gate: the default configuration on the seeds must meet eval/thresholds.toml.

Runs the real Assistant (packaged MiniLM, embedded Chroma, the default
generator) on every item of eval/gold.jsonl and fails, naming each metric,
when one falls below its minimum (or above its maximum). Thresholds are set a
little below measured values and may only go up.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.evaluation.harness import (
    EvalConfig,
    check_thresholds,
    gate_metrics,
    load_thresholds,
    run_eval,
)
from assistant.evaluation.report import write_report

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.integration
@pytest.mark.timeout(1800)
def test_default_configuration_meets_eval_thresholds(tmp_path):
    result = run_eval(
        ROOT / "eval" / "gold.jsonl",
        [EvalConfig("default")],
        corpus=[ROOT / "seeds"],
        cache_dir=ROOT / "eval" / ".cache",  # gitignored; re-ingest of unchanged seeds is a no-op
        labels=ROOT / "eval" / "judge_labels.jsonl",
        # Speed only: on a busy 2-core machine two llama.cpp threads wait on each
        # other and answer ~4x slower than one; the answers are the same.
        llm_threads=1,
    )
    report = write_report(result, tmp_path / "report")
    metrics = gate_metrics(result)
    failures = check_thresholds(metrics, load_thresholds(ROOT / "eval" / "thresholds.toml"))
    assert metrics["n_errors"] == 0
    assert not failures, "eval below thresholds (report: {}):\n{}".format(report / "report.md", "\n".join(failures))
