"""Eval metrics against hand-computed examples; no models, no index."""

from __future__ import annotations

import math

import pytest

from assistant.evaluation import metrics as M
from assistant.evaluation.harness import GoldItem, aggregate


def words_judge(sentence: str, snippet: str) -> bool:
    """A transparent stand-in judge: every word of the sentence occurs in the snippet."""
    words = {w.strip(".,").lower() for w in sentence.split()}
    return words <= {w.strip(".,").lower() for w in snippet.split()}


# ----- facts -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "spelling", "hit"),
    [
        ("Exports reached 7742 tonnes.", "7,742", True),
        ("Exports reached 7,742 tonnes.", "7742", True),
        ("Exports rose 60.3% in June.", "60.3", True),
        ("Exports rose 160.35% in June.", "60.3", False),  # not a substring of a bigger number
        ("Exports rose 60.35% in June.", "60.3", False),
        ("China supplies about 90 % of the market.", "90%", True),
        ("China supplies about 90 per cent of the market.", "90 percent", True),
        ("Break China\u2019s Rare Earth   Monopoly", "break china's rare earth monopoly", True),
        ("a multi-billion-dollar stake", "multi billion", True),
        ("It fights smugglers by transshipping checks", "transship", True),  # prefix of a word is fine
        ("The EU and Japan", "eu", True),
        ("the museum", "us", False),  # a spelling must start at a word boundary
    ],
)
def test_contains_fact_normalises_case_space_quotes_and_numbers(text, spelling, hit):
    assert M.contains_fact(text, spelling) is hit


def test_fact_recall_with_alternatives():
    facts = [["60.3"], ["7,742", "7742"], ["licence backlog", "license backlog"]]
    text = "Exports jumped 60.3% to 7742 tonnes after license backlogs were cleared [1]."
    hit, missed = M.fact_hits(M.strip_markers(text), facts)
    assert hit == ["60.3", "7,742", "licence backlog"] and missed == []
    assert M.fact_recall("Exports jumped 60.3%.", facts) == pytest.approx(1 / 3)


def test_fact_sentence_share_counts_answer_sentences_stating_a_fact():
    facts = [["quota"], ["smuggling"], ["2006", "since 2006"]]
    text = ("China has used export quotas since 2006 [1]. It targets smuggling [2]. "
            "Rare earths are essential for electronics [3].")
    assert M.fact_sentence_share(text, facts) == pytest.approx(2 / 3)
    assert M.fact_sentence_share(text, facts[:2]) is None  # not a broad question
    assert M.fact_sentence_share("", facts) is None


def test_fact_recall_of_empty_answer_is_zero_and_undefined_without_facts():
    assert M.fact_recall("", [["60.3"], ["2006"]]) == 0.0
    assert M.fact_recall("anything", []) is None


# ----- answer similarity -------------------------------------------------------------
def test_token_f1_hand_computed():
    # pred tokens {exports, rose, 60.3%}; ref {exports, rose, by, 60.3%}: P=1, R=3/4 -> F1=6/7
    assert M.token_f1("The exports rose 60.3% [1].", "Exports rose by 60.3%.") == pytest.approx(6 / 7)
    assert M.token_f1("", "Exports rose.") == 0.0
    assert M.token_f1("Apples.", "Exports rose.") == 0.0


def test_cosine():
    assert M.cosine([1, 0], [1, 0]) == pytest.approx(1.0)
    assert M.cosine([1, 0], [0, 1]) == pytest.approx(0.0)
    assert M.cosine([0, 0], [1, 1]) == 0.0


# ----- retrieval ---------------------------------------------------------------------
def test_doc_level_retrieval_metrics_hand_computed():
    ranking = M.doc_ranking(["a:1", "b:2", "a:3", "c:9"])
    assert ranking == ["a", "b", "c"]
    assert M.recall_at_k(ranking, ["b"]) == 1.0
    assert M.reciprocal_rank(ranking, ["b"]) == 0.5
    assert M.ndcg_at(ranking, ["b"]) == pytest.approx(1 / math.log2(3))
    # two gold docs, one found at rank 1: DCG = 1, IDCG = 1 + 1/log2(3)
    assert M.recall_at_k(ranking, ["a", "z"]) == 0.5
    assert M.ndcg_at(ranking, ["a", "z"]) == pytest.approx(1 / (1 + 1 / math.log2(3)))
    assert M.reciprocal_rank(ranking, ["z"]) == 0.0
    assert M.ndcg_at(ranking, ["c"], n=2) == 0.0  # cut off at n
    assert M.recall_at_k(ranking, []) is None


# ----- citations ---------------------------------------------------------------------
SNIPPETS = {1: "Exports rose 60.3% in June.", 2: "Apple signed a deal."}


def test_no_citations_means_zero_recall_and_undefined_precision():
    s = M.citation_scores(["Exports rose 60.3% in June."], SNIPPETS, words_judge)
    assert s.recall == 0.0 and s.precision is None and s.invalid_rate is None


def test_supported_and_unsupported_sentences():
    s = M.citation_scores(["Exports rose 60.3% in June [1].", "Apple signed a deal [1]."], SNIPPETS, words_judge)
    assert s.recall == 0.5
    assert s.precision == 0.5  # the second [1] does not support its sentence
    assert [v.supported for v in s.sentences] == [True, False]


def test_duplicate_citations_count_once():
    s = M.citation_scores(["Exports rose 60.3% in June [1] [1]."], SNIPPETS, words_judge)
    assert s.n_markers == 1 and s.precision == 1.0 and s.recall == 1.0


def test_alce_precision_flags_an_unneeded_citation():
    # [1] alone supports the sentence; [2] neither supports it alone nor is needed.
    s = M.citation_scores(["Exports rose 60.3% in June [1, 2]."], SNIPPETS, words_judge)
    assert s.recall == 1.0
    assert s.sentences[0].precise == {1: True, 2: False}
    assert s.precision == 0.5


def test_alce_precision_keeps_citations_needed_together():
    snippets = {1: "Exports rose in June.", 2: "60.3%"}
    s = M.citation_scores(["Exports rose 60.3% in June [1][2]."], snippets, words_judge)
    assert s.recall == 1.0 and s.precision == 1.0


def test_invalid_citation_markers():
    s = M.citation_scores(["Exports rose 60.3% in June [1] [7]."], SNIPPETS, words_judge)
    assert s.n_invalid == 1 and s.invalid_rate == 0.5
    assert s.recall == 1.0 and s.precision == 0.5


def test_split_sentences_keeps_markers_and_drops_empty_ones():
    assert M.split_sentences("") == []
    assert M.split_sentences("Exports rose. [1] Apple signed a deal [2].") == ["Exports rose [1].", "Apple signed a deal [2]."]


def test_source_precision():
    assert M.source_precision(["a", "a", "b"], ["a"]) == 0.5
    assert M.source_precision([], ["a"]) is None


# ----- abstention, latency, aggregation ----------------------------------------------
def test_abstention_rates():
    assert M.abstention_rates([False, False], [True, True]) == (1.0, None)  # all abstained, all unanswerable
    assert M.abstention_rates([True, True, False], [True, False, False]) == (0.0, 0.5)


def test_percentile_matches_numpy_definition():
    assert M.percentile([4, 1, 3, 2], 50) == 2.5
    assert M.percentile([1, 2, 3, 4], 95) == pytest.approx(3.85)
    assert M.percentile([], 50) is None


def _row(item: GoldItem, text: str, abstained: bool) -> dict:
    hit, missed = M.fact_hits(text, item.facts)
    return {
        "id": item.id, "category": item.category, "answerable": item.answerable, "abstained": abstained,
        "error": None, "facts_hit": hit, "facts_missed": missed,
        "fact_recall": M.fact_recall(text, item.facts), "context_fact_recall": None,
        "token_f1": None, "answer_cosine": None, "citation_recall": None, "citation_precision": None,
        "invalid_citation_rate": None, "source_precision": None, "recall_at_k": 1.0,
        "reciprocal_rank": 1.0, "ndcg_at_10": 1.0, "latency_s": 1.0,
    }


def test_aggregate_when_everything_abstained():
    items = [GoldItem("f-1", "q", True, [["60.3"]], ["a"]), GoldItem("u-1", "q", False)]
    metrics = aggregate([_row(i, "", True) for i in items], items)
    assert metrics["fact_recall"] == 0.0
    assert metrics["abstention_accuracy"] == 1.0
    assert metrics["false_abstention_rate"] == 1.0
    assert metrics["citation_recall"] is None and metrics["citation_precision"] is None
    assert metrics["n_items"] == 2 and metrics["latency_p50_s"] == 1.0


# ----- judge agreement ---------------------------------------------------------------
def test_agreement_and_cohens_kappa_hand_computed():
    a = M.agreement([True, True, False, False], [True, False, False, False])
    # acc 3/4; chance agreement 0.5*0.25 + 0.5*0.75 = 0.5; kappa = (0.75-0.5)/(1-0.5)
    assert a["accuracy"] == 0.75 and a["precision"] == 1.0 and a["recall"] == 0.5
    assert a["kappa"] == pytest.approx(0.5)
    assert M.agreement([True, False], [True, False])["kappa"] == 1.0


# ----- uncertainty -------------------------------------------------------------------
def test_wilson_interval_hand_computed_and_inside_zero_one():
    lo, hi = M.wilson_interval(3, 7)  # the unseen test part's 3 of 7 abstained
    assert (round(lo, 3), round(hi, 3)) == (0.158, 0.750)
    assert M.wilson_interval(0, 5)[0] == 0.0 and M.wilson_interval(5, 5)[1] == 1.0
    assert M.wilson_interval(0, 0) is None


def test_bootstrap_interval_is_reproducible_and_brackets_the_mean():
    values = [1.0, 0.0, 1.0, 1.0, 0.5, None]
    lo, hi = M.bootstrap_interval(values)
    assert lo <= 0.7 <= hi and (lo, hi) == M.bootstrap_interval(values)  # fixed seed
    assert M.bootstrap_interval([1.0] * 4) == (1.0, 1.0)
    assert M.bootstrap_interval([None]) is None


def test_aggregate_reports_intervals_for_rates_and_means():
    items = [GoldItem("f-1", "q", True, [["60.3"]], ["a"]), GoldItem("f-2", "q", True, [["7"]], ["a"]),
             GoldItem("u-1", "q", False)]
    rows = [_row(items[0], "Exports rose 60.3%.", False), _row(items[1], "", True), _row(items[2], "", True)]
    rows[0]["first_sentence_hit"], rows[1]["first_sentence_hit"] = True, False
    intervals = aggregate(rows, items)["intervals"]
    assert intervals["abstention_accuracy"] == [0.207, 1.0]  # 1 of 1
    assert intervals["false_abstention_rate"][0] < 0.5 < intervals["false_abstention_rate"][1]
    assert intervals["fact_recall"] == [0.0, 1.0]
    assert "source_precision" not in intervals  # no item defines it
