"""Choose the abstention thresholds from the dev parts of several gold suites, with their curves.

A threshold chosen on one corpus fits that corpus: the seeds' 0.43 refused 6 %
of the answerable out-of-domain questions. So each suite's dev items are
observed over their own corpus, and the threshold kept is the one whose
false-abstention rate stays within 5 % on every suite and whose worst
abstention accuracy is highest (ties: the highest mean over the suites).

Two thresholds are chosen together: the best evidence score (the sentence
ranker's, ``abstain_threshold``) and the question match (the index encoder's,
``abstain_match_threshold``). Every gold question is asked once with both at 0,
recording both scores and whether another rule (an unmentioned name, a missing
figure) abstained anyway. Any pair can then be scored without asking again: an
item abstains when a rule did or a score is below its threshold. For each
match threshold the evidence threshold is chosen as above; the pair kept has
the best worst-suite abstention accuracy, then the lowest false abstention,
then the middle of its plateau of match thresholds. A third, the match a question
needs when one of its nouns is in no retrieved passage
(``abstain_unmatched_match_threshold``), is then chosen the same way with the
pair fixed: the value at or above the match threshold with the best
worst-suite abstention accuracy within the false-abstention budget.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MAX_FALSE_ABSTENTION = 0.05
# Match thresholds tried: e5 cosines of a question and any sentence sit in 0.7-0.95.
MATCH_GRID = [round(0.70 + i * 0.002, 3) for i in range(126)]


@dataclass
class Observation:
    answerable: bool
    best_score: float
    rule_abstained: bool
    best_match: float | None = None  # None: the encoder gave no match score
    unmatched: bool = False  # a noun of the question is in no retrieved passage


def observe(assistant, items) -> list[Observation]:
    """Ask every gold item with the threshold off (``assistant`` settings are copied)."""
    from assistant.assistant import Assistant

    # Evidence scores do not depend on the generator, so the fast one is used.
    probe = assistant.settings.model_copy(
        update={"abstain_threshold": 0.0, "abstain_match_threshold": 0.0,
                "abstain_unmatched_match_threshold": 0.0, "llm": "extractive"})
    runner = Assistant(probe, embeddings=assistant.embeddings, index_embeddings=assistant.index_embeddings,
                       chroma_client=assistant.index._client)
    out = []
    for item in items:
        answer = runner.ask(item.question)
        match = answer.metadata.get("best_question_match")
        out.append(Observation(item.answerable, float(answer.metadata.get("best_evidence_score", 0.0)),
                               answer.abstained, None if match is None else float(match),
                               bool(answer.metadata.get("unmatched_question_words"))))
    return out


def curve(observations: list[Observation], steps: int = 101, match_threshold: float | None = None,
          unmatched_threshold: float | None = None) -> list[dict[str, float]]:
    """Coverage (answerable items answered) and precision (answered items answerable) per threshold.

    With ``match_threshold``, an item whose question match is below it abstains too;
    an ``unmatched`` one below ``unmatched_threshold`` when given.
    """
    rows = []
    n_answerable = sum(o.answerable for o in observations) or 1
    n_unanswerable = sum(not o.answerable for o in observations) or 1

    def needed(o: Observation) -> float | None:
        return unmatched_threshold if o.unmatched and unmatched_threshold is not None else match_threshold

    def answers(o: Observation) -> bool:
        bar = needed(o)
        return bar is None or o.best_match is None or o.best_match >= bar

    matched = [o for o in observations if answers(o)]
    for i in range(steps):
        t = i / (steps - 1)
        answered = [o for o in matched if not o.rule_abstained and o.best_score >= t]
        good = sum(o.answerable for o in answered)
        rows.append({
            "threshold": round(t, 3),
            "coverage": good / n_answerable,
            "precision": good / len(answered) if answered else 1.0,
            "abstention_accuracy": sum(1 for o in observations if not o.answerable and o not in answered) / n_unanswerable,
            "false_abstention_rate": 1 - good / n_answerable,
        })
    return rows


def choose_threshold(rows: list[dict[str, float]]) -> dict[str, float]:
    """The threshold with the best abstention accuracy whose false-abstention rate stays
    within 5%; ties go to the middle of the best plateau (robust to new questions)."""
    allowed = [r for r in rows if r["false_abstention_rate"] <= MAX_FALSE_ABSTENTION + 1e-9] or rows
    best = max(_accuracy(r) for r in allowed)
    plateau = [r for r in allowed if _accuracy(r) == best]
    return plateau[len(plateau) // 2]


def _accuracy(row: dict[str, Any]) -> tuple[float, float]:
    """(worst-suite, mean) abstention accuracy: among equally good worst suites, the better
    mean wins, so a threshold that only the worst suite cannot tell apart is not chosen blind."""
    worst = round(row["abstention_accuracy"], 9)
    return worst, round(row.get("mean_abstention_accuracy", worst), 9)


def plot_curve(rows: list[dict[str, float]], chosen: dict[str, float], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4))
    xs = [r["threshold"] for r in rows]
    ax.plot(xs, [r["coverage"] for r in rows], label="coverage (answerable answered)")
    ax.plot(xs, [r["precision"] for r in rows], label="precision (answered are answerable)")
    ax.plot(xs, [r["abstention_accuracy"] for r in rows], label="abstention accuracy", linestyle="--")
    ax.axvline(chosen["threshold"], color="grey", linestyle=":", label=f"chosen {chosen['threshold']:.2f}")
    ax.set_xlabel("abstention threshold (best evidence score)")
    ax.set_ylim(0, 1.05)
    ax.legend(loc="lower left", fontsize=8)
    ax.set_title("Abstention threshold: coverage vs precision")
    fig.tight_layout()
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(path)


def choose_across(curves: dict[str, list[dict[str, float]]]) -> dict[str, float]:
    """The threshold within 5 % false abstention on every suite with the best worst-suite
    abstention accuracy; ties go to the middle of the plateau. Returns the pooled row
    fields as the worst suite's values."""
    names = list(curves)
    n = len(curves[names[0]])
    worst = []
    for i in range(n):
        rows = [curves[name][i] for name in names]
        worst.append({
            "threshold": rows[0]["threshold"],
            "coverage": min(r["coverage"] for r in rows),
            "precision": min(r["precision"] for r in rows),
            "abstention_accuracy": min(r["abstention_accuracy"] for r in rows),
            "mean_abstention_accuracy": sum(r["abstention_accuracy"] for r in rows) / len(rows),
            "false_abstention_rate": max(r["false_abstention_rate"] for r in rows),
        })
    return choose_threshold(worst)


def choose_pair(observed: dict[str, list[Observation]]) -> dict[str, Any]:
    """The (evidence, match) threshold pair: ``choose_across`` per match threshold, the best kept.

    Returns ``choose_across``'s row with ``match_threshold`` added (None when no
    observation has a match score, or when no match threshold beats none).
    """
    with_match = any(o.best_match is not None for obs in observed.values() for o in obs)
    candidates: list[dict[str, Any]] = []
    for m in [None, *(MATCH_GRID if with_match else [])]:
        row = choose_across({name: curve(obs, match_threshold=m) for name, obs in observed.items()})
        candidates.append({**row, "match_threshold": m})
    # choose_across falls back to every row when none keeps the budget; such a pair is not a choice.
    within = [r for r in candidates if r["false_abstention_rate"] <= MAX_FALSE_ABSTENTION + 1e-9]
    candidates = within or candidates
    chosen = _best_of(candidates)
    m = chosen["match_threshold"]
    chosen["unmatched_match_threshold"] = None
    if m is not None:
        chosen.update(choose_unmatched(observed, chosen["threshold"], m))
    return chosen


def _best_of(candidates: list[dict[str, Any]]) -> dict[str, Any]:
    """The best worst-suite abstention accuracy, then the best mean, then the lowest false
    abstention; the middle of the plateau of rows that tie on all three."""
    key = [(*_accuracy(r), -round(r["false_abstention_rate"], 9)) for r in candidates]
    best = max(key)
    plateau = [r for r, k in zip(candidates, key, strict=True) if k == best]
    return plateau[len(plateau) // 2]


def choose_unmatched(observed: dict[str, list[Observation]], threshold: float, match: float) -> dict[str, float]:
    """The match threshold for questions with a noun in no passage, the pair (``threshold``,
    ``match``) fixed: from ``match`` up, the best worst-suite row within the budget. Returns
    that row's worst-suite fields and ``unmatched_match_threshold``."""
    at = round(threshold * 100)  # the curve's row of ``threshold`` (steps of 0.01)
    rows = []
    for m2 in [g for g in MATCH_GRID if g >= match]:
        per_suite = [curve(obs, match_threshold=match, unmatched_threshold=m2)[at] for obs in observed.values()]
        rows.append({"unmatched_match_threshold": m2,
                     "coverage": min(r["coverage"] for r in per_suite),
                     "precision": min(r["precision"] for r in per_suite),
                     "abstention_accuracy": min(r["abstention_accuracy"] for r in per_suite),
                     "mean_abstention_accuracy": sum(r["abstention_accuracy"] for r in per_suite) / len(per_suite),
                     "false_abstention_rate": max(r["false_abstention_rate"] for r in per_suite)})
    within = [r for r in rows if r["false_abstention_rate"] <= MAX_FALSE_ABSTENTION + 1e-9]
    return _best_of(within) if within else {"unmatched_match_threshold": match}


def calibrate_suites(observed: dict[str, list[Observation]], out_dir: Path) -> dict[str, Any]:
    """Curves per suite, the thresholds chosen across them, JSON + PNG (pooled curve) in ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    chosen = choose_pair(observed)
    m, m2 = chosen["match_threshold"], chosen["unmatched_match_threshold"]
    curves = {name: curve(obs, match_threshold=m, unmatched_threshold=m2) for name, obs in observed.items()}
    rows = curve([o for obs in observed.values() for o in obs], match_threshold=m, unmatched_threshold=m2)
    result = {"chosen": chosen, "curve": rows, "curves": curves,
              "observations": {name: [vars(o) for o in obs] for name, obs in observed.items()}}
    tmp = out_dir / "abstention_curve.json.tmp"
    tmp.write_text(json.dumps(result, indent=1))
    tmp.replace(out_dir / "abstention_curve.json")
    plot_curve(rows, chosen, out_dir / "abstention_curve.png")
    return result


def calibrate(assistant, items, out_dir: Path) -> dict[str, Any]:
    """Observe, build the curve, pick the threshold, write JSON + PNG to ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    observations = observe(assistant, items)
    rows = curve(observations)
    chosen = choose_threshold(rows)
    result = {"chosen": chosen, "curve": rows, "observations": [vars(o) for o in observations]}
    tmp = out_dir / "abstention_curve.json.tmp"
    tmp.write_text(json.dumps(result, indent=1))
    tmp.replace(out_dir / "abstention_curve.json")
    plot_curve(rows, chosen, out_dir / "abstention_curve.png")
    return result
