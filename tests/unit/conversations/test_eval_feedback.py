"""The eval report counts the users' ratings, and never creates a database to do it."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from assistant.conversations.store import ConversationStore
from assistant.evaluation import harness
from assistant.evaluation import report as eval_report
from assistant.settings import load_settings
from tests.unit.conversations.conftest import answer_dict
from tests.unit.evaluation.test_report import _result


def _split_result() -> dict:
    result = _result()
    for run in result["runs"]:
        run["splits"] = {"dev": run["metrics"], "test": run["metrics"]}
    return result


ZERO = {"up": 0, "down": 0, "down_with_correction": 0, "weeks": {}}


def test_no_database_gives_zero_counts_and_creates_nothing(tmp_path):
    data_dir = tmp_path / "data"
    assert harness.feedback_counts(load_settings(data_dir=data_dir)) == ZERO
    assert not data_dir.exists()


def test_counts_come_from_the_configured_data_dir(tmp_path, monkeypatch):
    store = ConversationStore(load_settings(data_dir=tmp_path).conversations_url)
    chat = store.create()
    turns = [store.add_turn(chat.id, f"q{i}?", answer_dict()) for i in range(3)]
    store.add_feedback(turns[0].id, "up")
    store.add_feedback(turns[1].id, "down", correction="The right answer.")
    store.add_feedback(turns[2].id, "down")
    store.close()
    monkeypatch.setenv("ASSISTANT_DATA_DIR", str(tmp_path))
    counts = harness.feedback_counts()
    assert (counts["up"], counts["down"], counts["down_with_correction"]) == (1, 2, 1)
    assert sum(w["down"] for w in counts["weeks"].values()) == 2


def test_an_unreadable_database_is_reported_not_raised(tmp_path):
    (tmp_path / "conversations.db").write_bytes(b"this is not a database" * 100)
    counts = harness.feedback_counts(load_settings(data_dir=tmp_path))
    assert counts["up"] == 0 and "feedback not read" in counts["error"]


def test_run_suites_puts_the_counts_in_every_result_and_the_reports_show_them(tmp_path, monkeypatch):
    monkeypatch.setenv("ASSISTANT_DATA_DIR", str(tmp_path / "no-db-here"))
    monkeypatch.setattr(harness, "run_eval", lambda *args, **kwargs: _split_result())
    suites = [SimpleNamespace(name=name, gold=Path(f"eval/{name}.jsonl"), corpus=(Path("seeds"),), labels=None)
              for name in ("seeds", "ood")]
    results, failures = harness.run_suites(suites, [harness.EvalConfig("default")])
    assert failures == [] and all(r["feedback"] == ZERO for r in results.values())
    assert not (tmp_path / "no-db-here").exists()

    results["seeds"]["feedback"] = results["ood"]["feedback"] = {
        "up": 3, "down": 2, "down_with_correction": 1, "weeks": {"2026-W48": {"up": 3, "down": 2}}}
    md = eval_report.render_markdown(results["seeds"])
    assert "## User feedback" in md and "3 up, 2 down, 1 of them with a correction" in md
    assert "2026-W48: 3 up, 2 down" in md
    assert "3 up, 2 down" in eval_report.render_summary(results)
