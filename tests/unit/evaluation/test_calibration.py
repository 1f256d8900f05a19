"""Abstention thresholds are chosen on several suites at once, evidence score and question match together."""

from __future__ import annotations

from assistant.evaluation.calibration import Observation, choose_pair


def _obs(answerable: bool, score: float, match: float | None) -> Observation:
    return Observation(answerable, score, False, match)


def test_the_match_threshold_is_kept_only_when_it_abstains_more_within_the_false_abstention_budget():
    # Suite a: the unanswerable items score like answerable ones on evidence, but match worse.
    a = [_obs(True, 0.6 + i / 100, 0.86 + i / 1000) for i in range(20)] + [_obs(False, 0.62, 0.83), _obs(False, 0.64, 0.835)]
    b = [_obs(True, 0.7, 0.9) for _ in range(20)] + [_obs(False, 0.3, 0.8)]
    chosen = choose_pair({"a": a, "b": b})
    assert chosen["match_threshold"] is not None and 0.835 < chosen["match_threshold"] <= 0.86
    assert chosen["abstention_accuracy"] == 1.0 and chosen["false_abstention_rate"] == 0.0


def test_without_match_scores_only_the_evidence_threshold_is_chosen():
    a = [_obs(True, 0.6, None) for _ in range(10)] + [_obs(False, 0.3, None)]
    chosen = choose_pair({"a": a})
    assert chosen["match_threshold"] is None and chosen["abstention_accuracy"] == 1.0


def test_a_match_threshold_that_breaks_the_false_abstention_budget_is_never_chosen():
    a = [_obs(True, 0.6, 0.84) for _ in range(3)] + [_obs(True, 0.6, 0.9) for _ in range(17)] + [_obs(False, 0.6, 0.83)]
    chosen = choose_pair({"a": a})
    assert chosen["false_abstention_rate"] <= 0.05


def test_a_suite_marked_calibrate_false_is_reported_but_not_calibrated_on(tmp_path):
    import pytest

    from assistant.errors import InputError
    from assistant.evaluation.suites import load_suites

    path = tmp_path / "suites.toml"
    path.write_text('[a]\ngold = "a.jsonl"\ncorpus = ["docs"]\n\n'
                    '[b]\ngold = "b.jsonl"\ncorpus = ["docs"]\ncalibrate = false\n', encoding="utf-8")
    assert [(s.name, s.calibrate) for s in load_suites(path)] == [("a", True), ("b", False)]
    path.write_text('[a]\ngold = "a.jsonl"\ncorpus = ["docs"]\ncalibrate = "no"\n', encoding="utf-8")
    with pytest.raises(InputError, match="calibrate"):
        load_suites(path)
    from pathlib import Path

    shipped = {s.name: s.calibrate for s in load_suites(Path(__file__).resolve().parents[3] / "eval" / "suites.toml")}
    assert shipped == {"seeds": True, "ood": True, "unseen": False, "rhine": True, "squadtrain": True}


def test_questions_with_a_noun_in_no_passage_get_their_own_stricter_match_threshold():
    def obs(answerable: bool, match: float, unmatched: bool) -> Observation:
        return Observation(answerable, 0.7, False, match, unmatched)

    # Answerable questions match from 0.85 up, some with a noun the passages lack at 0.87 or more;
    # unanswerable ones lacking a noun match at 0.855-0.86, above the general threshold.
    a = ([obs(True, 0.85 + i / 1000, False) for i in range(20)] + [obs(True, 0.87 + i / 1000, True) for i in range(5)]
         + [obs(False, 0.80, False), obs(False, 0.855, True), obs(False, 0.86, True)])
    chosen = choose_pair({"a": a})
    assert chosen["match_threshold"] <= 0.85 < 0.86 < chosen["unmatched_match_threshold"] <= 0.87
    assert chosen["abstention_accuracy"] == 1.0 and chosen["false_abstention_rate"] == 0.0


def test_a_tie_on_the_worst_suite_goes_to_the_better_mean():
    # Suite b abstains on nothing whatever the evidence threshold; suite a needs it at 0.5 or more.
    a = [_obs(True, 0.7, None) for _ in range(20)] + [_obs(False, 0.45, None)]
    b = [_obs(True, 0.7, None) for _ in range(20)] + [_obs(False, 0.9, None)]
    chosen = choose_pair({"a": a, "b": b})
    assert 0.45 < chosen["threshold"] <= 0.7


def test_a_locally_built_suite_that_is_not_built_says_how_to_build_it(tmp_path):
    import pytest

    from assistant.errors import InputError
    from assistant.evaluation.suites import choose_suites

    path = tmp_path / "suites.toml"
    path.write_text(f'[news]\ngold = "{tmp_path / "gold.jsonl"}"\ncorpus = ["docs"]\n'
                    'build = "python eval/news/build.py --repo CLONE"\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"\[news\].*does not exist.*python eval/news/build.py --repo CLONE"):
        choose_suites(None, (), None, path, [])
    (tmp_path / "gold.jsonl").write_text("", encoding="utf-8")
    assert [s.name for s in choose_suites(None, (), None, path, [])] == ["news"]
