"""The eval gate: the default configuration on every eval suite must meet eval/thresholds.toml.

Runs the real Assistant (packaged MiniLM, embedded Chroma, the default
generator) on every item of each suite in eval/suites.toml (the seeds and the
out-of-domain corpus) and fails, naming each metric,
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
    run_eval,
    thresholds_for,
)
from assistant.evaluation.report import write_report
from assistant.evaluation.suites import load_suites

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.integration
@pytest.mark.timeout(1800)
@pytest.mark.parametrize("suite", load_suites(ROOT / "eval" / "suites.toml"), ids=lambda suite: suite.name)
def test_default_configuration_meets_eval_thresholds(tmp_path, suite):
    """Each suite (the seeds, and the out-of-domain corpus nobody tuned for) meets its bounds."""
    result = run_eval(
        ROOT / suite.gold,
        [EvalConfig("default")],
        corpus=[ROOT / c for c in suite.corpus],
        cache_dir=ROOT / suite.gold.parent / ".cache",  # gitignored; re-ingest of an unchanged corpus is a no-op
        labels=ROOT / suite.labels if suite.labels else None,
        # Speed only: on a busy 2-core machine two llama.cpp threads wait on each
        # other and answer ~4x slower than one; the answers are the same.
        llm_threads=1,
    )
    report = write_report(result, tmp_path / "report")
    metrics = gate_metrics(result)
    bounds = thresholds_for(ROOT / "eval" / "thresholds.toml", suite.name, first=suite.name == "seeds")
    assert bounds, f"eval/thresholds.toml has no bounds for suite {suite.name!r}"
    failures = check_thresholds(metrics, bounds)
    assert metrics["n_errors"] == 0
    assert not failures, "eval below thresholds (report: {}):\n{}".format(report / "report.md", "\n".join(failures))
