"""Reports are complete or absent: results.json, report.md and two PNGs, written atomically."""

from __future__ import annotations

import json

import pytest

from assistant.evaluation import report as eval_report
from assistant.evaluation.harness import check_thresholds, load_thresholds


def _result() -> dict:
    item = {
        "id": "story-01", "category": "story", "question": "By how much | did exports rise?", "answerable": True,
        "answer": "Exports jumped 60.3% [1].", "abstained": False, "error": None,
        "facts_hit": ["60.3"], "facts_missed": [], "latency_s": 1.5,
        "citations": [{"id": 1, "source": "000_0fda6ccdd058825b", "section": "Overview", "snippet": "..."}],
        "sentences": [{"text": "Exports jumped 60.3%.", "citation_ids": [1], "invalid_ids": [], "supported": True,
                       "precise": {"1": True}}],
    }
    metrics = {"n_items": 1, "fact_recall": 1.0, "citation_recall": 1.0, "latency_p50_s": 1.5,
               "fact_recall_by_category": {"story": 1.0}}
    run = {"name": "default", "config": {"name": "default", "overrides": {},
           "settings": {"llm": "extractive", "retrieval": "hybrid", "k": 8, "chunk_tokens": 160}},
           "metrics": metrics, "items": [item]}
    other = json.loads(json.dumps(run))
    other["name"] = "k4"
    other["items"][0]["latency_s"] = 0.5
    return {"config": run["config"], "metrics": metrics, "items": [item], "runs": [run, other],
            "gold": {"path": "eval/gold.jsonl", "n_items": 1}, "corpus": ["seeds"],
            "judge_agreement": {"n": 2, "tp": 1, "tn": 1, "fp": 0, "fn": 0, "accuracy": 1.0, "precision": 1.0,
                                "recall": 1.0, "kappa": 1.0, "threshold": 0.55, "disagreements": []}}


def test_report_has_json_markdown_and_plots(tmp_path):
    out = eval_report.write_report(_result(), tmp_path / "rep")
    assert sorted(p.name for p in out.iterdir()) == ["latency.png", "metrics.png", "report.md", "results.json"]
    assert json.loads((out / "results.json").read_text())["metrics"]["fact_recall"] == 1.0
    md = (out / "report.md").read_text()
    assert "| fact recall | 1.000 | 1.000 |" in md
    assert "By how much \\| did exports rise?" in md  # pipes escaped inside table cells
    assert "<details>" in md  # the second configuration's items are collapsed
    for png in ("metrics.png", "latency.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_failing_write_leaves_the_previous_report_untouched(tmp_path, monkeypatch):
    out = eval_report.write_report(_result(), tmp_path / "rep")
    before = (out / "report.md").read_text()

    def boom(*_args):
        raise RuntimeError("disk full")

    monkeypatch.setattr(eval_report, "plot_latency", boom)
    changed = _result()
    changed["metrics"]["fact_recall"] = 0.0
    with pytest.raises(RuntimeError):
        eval_report.write_report(changed, tmp_path / "rep")
    assert (out / "report.md").read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rep"]  # no temp folder left behind


def test_thresholds(tmp_path):
    path = tmp_path / "t.toml"
    path.write_text("[min]\nfact_recall = 0.5\nmrr = 0.9\n[max]\nlatency_p95_s = 2.0\n")
    bounds = load_thresholds(path)
    assert check_thresholds({"fact_recall": 0.6, "mrr": 0.95, "latency_p95_s": 1.0}, bounds) == []
    failures = check_thresholds({"fact_recall": 0.4, "mrr": None, "latency_p95_s": 3.0}, bounds)
    assert len(failures) == 3 and "fact_recall = 0.4000 is below the minimum 0.5" in failures[0]


def test_refuses_to_replace_a_folder_that_is_not_a_report(tmp_path):
    from assistant import InputError

    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="not an eval report"):
        eval_report.write_report(_result(), tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_split_tables_print_intervals_and_only_the_parts_run():
    dev = {"fact_recall": 0.9, "abstention_accuracy": 3 / 7, "intervals": {"abstention_accuracy": [0.158, 0.75]}}
    runs = [{"name": "default", "splits": {"dev": dev}}]
    table = eval_report.split_table(runs)
    assert "| metric | default dev |" in table and "test" not in table.splitlines()[0]
    assert "0.429 [0.16–0.75]" in table and "| fact recall | 0.900 |" in table
    assert eval_report.INTERVAL_NOTE in table
