"""Eval outputs: ``results.json``, ``report.md`` and PNG plots, written all-or-nothing.

Everything is built in a temporary sibling folder and renamed into place at
the end, so a run that fails half way never leaves a half-written report.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

# Metrics drawn side by side per configuration (all in [0, 1]).
PLOTTED = [
    ("fact_recall", "fact recall"),
    ("context_fact_recall", "facts in context"),
    ("token_f1", "token F1"),
    ("answer_cosine", "MiniLM cosine"),
    ("citation_recall", "citation recall"),
    ("citation_precision", "citation precision"),
    ("source_precision", "source precision"),
    ("abstention_accuracy", "abstention acc."),
    ("false_abstention_rate", "false abstention ↓"),
    ("recall_at_k", "Recall@k"),
    ("mrr", "MRR"),
    ("ndcg_at_10", "nDCG@10"),
]
TABLE = [
    PLOTTED[0],
    ("first_sentence_hit_rate", "one-fact: first sentence holds it"),
    ("words_median", "words per answer (median)"),
    ("fact_sentence_share", "broad: sentences stating a gold fact"),
    ("dangling_reference_share", "sentences leaning on nothing said before ↓"),
    *PLOTTED[1:7],
    ("invalid_citation_rate", "invalid-citation rate ↓"),
    *PLOTTED[7:],
    ("all_facts_rate", "all facts hit"),
    ("latency_p50_s", "latency p50 (s)"),
    ("latency_p95_s", "latency p95 (s)"),
    ("latency_total_s", "latency total (s)"),
    ("n_items", "items"),
    ("n_errors", "errors"),
]


def write_report(result: dict[str, Any], out_dir: str | Path) -> Path:
    """Write results.json, report.md, metrics.png and latency.png into ``out_dir`` atomically."""
    out = Path(out_dir)
    check_out_dir(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{out.name}-", dir=out.parent))
    try:
        (tmp / "results.json").write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        plot_metrics(result["runs"], tmp / "metrics.png")
        plot_latency(result["runs"], tmp / "latency.png")
        (tmp / "report.md").write_text(render_markdown(result), encoding="utf-8")
        _move_into_place(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def _move_into_place(tmp: Path, out: Path) -> None:
    """Replace ``out`` with the finished ``tmp`` folder; the old report goes only after the new one is in."""
    old = None
    if out.exists():
        old = out.parent / f".old-{out.name}-{os.getpid()}"
        out.rename(old)
    tmp.rename(out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


REPORT_FILES = {"results.json", "report.md", "metrics.png", "latency.png"}


def check_out_dir(out: Path) -> None:
    """Replacing ``out`` is only safe when it is an earlier report (or empty)."""
    from assistant.errors import InputError

    if out.exists() and not out.is_dir():
        raise InputError(f"--out {str(out)!r} is a file; pass a folder for the report.")
    if out.is_dir():
        foreign = sorted(p.name for p in out.iterdir() if p.name not in REPORT_FILES)
        if foreign:
            raise InputError(
                f"--out {str(out)!r} holds files that are not an eval report ({', '.join(foreign[:3])}); "
                "the report replaces its folder, so pass a new or report-only folder."
            )


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def _cell(text: str, limit: int = 400) -> str:
    text = " ".join(str(text).split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text.replace("|", "\\|")


def metrics_table(runs: list[dict[str, Any]]) -> str:
    """Markdown table: one row per metric, one column per configuration."""
    head = "| metric | " + " | ".join(r["name"] for r in runs) + " |"
    rule = "|---|" + "---:|" * len(runs)
    rows = [f"| {label} | " + " | ".join(_fmt(r["metrics"].get(key)) for r in runs) + " |" for key, label in TABLE]
    return "\n".join([head, rule, *rows])


def render_markdown(result: dict[str, Any]) -> str:
    runs = result["runs"]
    lines = [
        "# Eval report",
        "",
        f"Generated {result.get('generated_at', '')} on gold file `{result['gold'].get('path')}` "
        f"({result['gold']['n_items']} items) over corpus {', '.join(f'`{c}`' for c in result['corpus'])}.",
        "",
        *([TYPED_NOTE, ""] if result.get("typed", "as-written") != "as-written" else []),
        "## Configurations",
        "",
        "| name | overrides | llm | retrieval | k | chunk_tokens |",
        "|---|---|---|---|---:|---:|",
    ]
    for r in runs:
        s = r["config"]["settings"]
        over = ", ".join(f"{k}={v}" for k, v in r["config"]["overrides"].items()) or "(defaults)"
        lines.append(f"| {r['name']} | {over} | {s['llm']} | {s['retrieval']} | {s['k']} | {s['chunk_tokens']} |")
    lines += ["", "## Metrics", "", metrics_table(runs), "",
              "↓ lower is better. Definitions: README, section *Evaluation*.", "",
              "![metrics per configuration](metrics.png)", "", "![latency distribution](latency.png)", ""]
    cats = sorted({c for r in runs for c in r["metrics"].get("fact_recall_by_category", {})})
    if cats:
        lines += ["### Fact recall by question category", "",
                  "| category | " + " | ".join(r["name"] for r in runs) + " |", "|---|" + "---:|" * len(runs)]
        for c in cats:
            lines.append(f"| {c} | " + " | ".join(_fmt(r["metrics"]["fact_recall_by_category"].get(c)) for r in runs) + " |")
        lines.append("")
    if runs[0].get("splits"):
        parts = list(runs[0]["splits"])
        lines += ["## Dev and sealed test" if len(parts) > 1 else f"## The {parts[0]} part only", "",
                  "Items are split by a fixed hash of their id (`assistant/evaluation/splits.py`). "
                  "Tune on dev; test is only reported, so its items are not listed below.", "",
                  split_table(runs), ""]
    if result.get("feedback") is not None:
        lines += ["## User feedback", "", feedback_line(result["feedback"]), ""]
    agreement = result.get("judge_agreement")
    if agreement:
        lines += _judge_section(agreement, result.get("judge_agreement_by_split"))
    for i, run in enumerate(runs):
        lines += _items_section(run, collapsed=i > 0)
    return "\n".join(lines) + "\n"


def suites_feedback(results: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    """The feedback counts a suites run carries (one data folder: the same in every suite)."""
    return next((r["feedback"] for r in results.values() if r.get("feedback") is not None), None)


def feedback_line(counts: dict[str, Any]) -> str:
    """Users' ratings in one sentence: totals, corrections, the last weeks."""
    weeks = list(counts.get("weeks", {}).items())[-6:]
    by_week = "; ".join(f"{w}: {c['up']} up, {c['down']} down" for w, c in weeks)
    return (f"Ratings saved by users (`assistant feedback`, latest per answer): {counts['up']} up, "
            f"{counts['down']} down, {counts['down_with_correction']} of them with a correction "
            "(`assistant feedback export --out FILE` makes those gold lines)."
            + (f" By ISO week: {by_week}." if by_week else "")
            + (f" ({counts['error']})" if counts.get("error") else ""))


def split_table(runs: list[dict[str, Any]]) -> str:
    """One row per metric, a dev and a test column per configuration."""
    cols = [(r["name"], part, m) for r in runs for part, m in r["splits"].items()]
    head = "| metric | " + " | ".join(f"{name} {part}" for name, part, _ in cols) + " |"
    rule = "|---|" + "---:|" * len(cols)
    rows = [f"| {label} | " + " | ".join(_fmt_interval(m, key) for _, _, m in cols) + " |" for key, label in TABLE]
    return "\n".join([head, rule, *rows, "", INTERVAL_NOTE])


#: Under every dev/test table: what the bracketed ranges are.
INTERVAL_NOTE = ("Brackets: 95 % interval (Wilson for rates, bootstrap over items for fact recall and "
                 "source precision). Parts whose intervals overlap are not shown to differ.")


def _fmt_interval(metrics: dict[str, Any], key: str) -> str:
    """The value, with its 95 % interval when the harness measured one ("0.692 [0.42–0.87]")."""
    value = _fmt(metrics.get(key))
    bounds = (metrics.get("intervals") or {}).get(key)
    return f"{value} [{bounds[0]:.2f}–{bounds[1]:.2f}]" if bounds and metrics.get(key) is not None else value


def _judge_section(a: dict[str, Any], by_split: dict[str, Any] | None = None) -> list[str]:
    lines = [
        "## Support judge vs hand labels",
        "",
        f"{a['n']} hand-labelled sentence/snippet pairs (`eval/judge_labels.jsonl`), judge threshold {a['threshold']}:",
        "",
        "| accuracy | precision | recall | Cohen's kappa | TP | TN | FP | FN |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| {_fmt(a['accuracy'])} | {_fmt(a['precision'])} | {_fmt(a['recall'])} | {_fmt(a['kappa'])} "
        f"| {a['tp']} | {a['tn']} | {a['fp']} | {a['fn']} |",
        "",
    ]
    if by_split:
        lines[-1:-1] = [
            f"| {part}: {_fmt(s['accuracy'])} | {_fmt(s['precision'])} | {_fmt(s['recall'])} | {_fmt(s['kappa'])} "
            f"| {s['tp']} | {s['tn']} | {s['fp']} | {s['fn']} |"
            for part, s in by_split.items()
        ]
    if a["disagreements"]:
        shown = a["disagreements"]  # dev labels only (``harness.judge_agreement``)
        lines += [f"Disagreements on dev labels ({len(shown)} of {a['fp'] + a['fn']}; test labels stay sealed):", "", "| id | label | judge score | sentence | snippet | note |", "|---|---|---:|---|---|---|"]
        for d in shown:
            lines.append(f"| {d['id']} | {'supported' if d['label'] else 'not supported'} | {d['score']:.3f} "
                         f"| {_cell(d['sentence'], 160)} | {_cell(d['snippet'], 160)} | {_cell(d['note'], 120)} |")
        lines.append("")
    return lines


def _items_section(run: dict[str, Any], collapsed: bool) -> list[str]:
    lines = [f"## Items: {run['name']}", ""]
    if collapsed:
        lines += ["<details><summary>per-item table</summary>", ""]
    lines += ["| id | question | answer | facts hit | facts missed | citations | verdicts | s |",
              "|---|---|---|---|---|---|---|---:|"]
    for it in run["items"]:
        if it.get("split") == "test":
            continue  # sealed: aggregates only
        answer = ("**[abstained]** " if it["abstained"] else "") + (it["answer"] or "")
        if it.get("error"):
            answer = f"**error:** {it['error']}"
        if not it["answerable"]:
            answer = ("✅ " if it["abstained"] else "❌ answered: ") + answer
        cites = "; ".join(f"[{c['id']}] {c['source'][:7]}… {c['section']}" for c in it["citations"])
        verdicts = " ".join(
            ("✓" if s["supported"] else ("∅" if not s["citation_ids"] else "✗")) for s in it.get("sentences", [])
        )
        lines.append(
            f"| {it['id']} | {_cell(it['question'], 120)} | {_cell(answer)} | {_cell(', '.join(it['facts_hit']))} "
            f"| {_cell(', '.join(it['facts_missed']))} | {_cell(cites, 200)} | {verdicts} | {it['latency_s']:.2f} |"
        )
    lines += ["", "Verdicts per answer sentence: ✓ its citations support it, ✗ they do not, ∅ no citation.", ""]
    if collapsed:
        lines += ["</details>", ""]
    return lines


def plot_metrics(runs: list[dict[str, Any]], path: Path) -> None:
    """Grouped bars: each metric, one bar per configuration."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    keys = [k for k, _ in PLOTTED if any(r["metrics"].get(k) is not None for r in runs)]
    labels = [dict(PLOTTED)[k] for k in keys]
    x = np.arange(len(keys))
    width = 0.8 / max(1, len(runs))
    fig, ax = plt.subplots(figsize=(max(9, 1.1 * len(keys) + 1), 4.8), dpi=110)
    for i, run in enumerate(runs):
        values = [run["metrics"].get(k) or 0.0 for k in keys]
        ax.bar(x - 0.4 + width * (i + 0.5), values, width, label=run["name"])
    ax.set_xticks(x, labels, rotation=35, ha="right")
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("score (0–1)")
    ax.set_title(f"Eval metrics per configuration ({runs[0]['metrics']['n_items']} gold items)")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, ncols=min(len(runs), 5), loc="upper center", bbox_to_anchor=(0.5, -0.32))
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_latency(runs: list[dict[str, Any]], path: Path) -> None:
    """Per-item answer latency per configuration: box plot with the items as dots."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    data = [[it["latency_s"] for it in r["items"]] for r in runs]
    fig, ax = plt.subplots(figsize=(max(6, 1.6 * len(runs) + 2), 4.2), dpi=110)
    ax.boxplot(data, showfliers=False)
    ax.set_xticks(range(1, len(runs) + 1), [r["name"] for r in runs])
    rng = np.random.default_rng(0)
    for i, values in enumerate(data, start=1):
        ax.scatter(i + rng.uniform(-0.15, 0.15, len(values)), values, s=10, alpha=0.6)
        p95 = runs[i - 1]["metrics"].get("latency_p95_s")
        if p95 is not None:
            ax.hlines(p95, i - 0.3, i + 0.3, colors="red", linestyles="dashed", linewidth=1)
    ax.set_ylabel("seconds per answer")
    ax.set_title("Answer latency per item (red dash: p95)")
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


# ----- several suites -------------------------------------------------------------------
SUMMARY_FILES = {"summary.md", "summary.json"}


def write_suites_report(results: dict[str, dict[str, Any]], out_dir: str | Path) -> Path:
    """``out/<suite>/`` (a full report each) plus ``summary.md``/``summary.json`` side by side.

    Built in a temporary sibling and renamed into place, like ``write_report``.
    """
    out = Path(out_dir)
    check_suites_out_dir(out, set(results))
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{out.name}-", dir=out.parent))
    try:
        for name, result in results.items():
            write_report(result, tmp / name)
        summary = {name: {"runs": [{"name": r["name"], "metrics": r["metrics"], "splits": r.get("splits")}
                                   for r in result["runs"]],
                          "judge_agreement": _judge_brief(result), "feedback": result.get("feedback")}
                   for name, result in results.items()}
        (tmp / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        (tmp / "summary.md").write_text(render_summary(results), encoding="utf-8")
        _move_into_place(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def check_suites_out_dir(out: Path, suite_names: set[str]) -> None:
    """Like ``check_out_dir``: only an earlier report (suite folders, summary files) may be replaced."""
    from assistant.errors import InputError

    if out.exists() and not out.is_dir():
        raise InputError(f"--out {str(out)!r} is a file; pass a folder for the report.")
    if out.is_dir():
        foreign = sorted(p.name for p in out.iterdir()
                         if p.name not in SUMMARY_FILES | REPORT_FILES
                         and not (p.is_dir() and (p / "results.json").exists()) and p.name not in suite_names)
        if foreign:
            raise InputError(
                f"--out {str(out)!r} holds files that are not an eval report ({', '.join(foreign[:3])}); "
                "the report replaces its folder, so pass a new or report-only folder."
            )


def _judge_brief(result: dict[str, Any]) -> dict[str, Any] | None:
    a = result.get("judge_agreement")
    if not a:
        return None
    keys = ("n", "accuracy", "kappa", "tp", "tn", "fp", "fn")
    brief = {k: a.get(k) for k in keys}
    brief["by_split"] = {part: {k: s.get(k) for k in keys}
                         for part, s in (result.get("judge_agreement_by_split") or {}).items()}
    return brief


def summary_table(results: dict[str, dict[str, Any]]) -> str:
    """One row per metric; a column per configuration, suite and part (dev, test)."""
    cols = [(f"{run['name']} · {suite} · {part}", m)
            for suite, result in results.items() for run in result["runs"] for part, m in run["splits"].items()]
    head = "| metric | " + " | ".join(name for name, _ in cols) + " |"
    rule = "|---|" + "---:|" * len(cols)
    rows = [f"| {label} | " + " | ".join(_fmt_interval(m, key) for _, m in cols) + " |" for key, label in TABLE]
    return "\n".join([head, rule, *rows, "", INTERVAL_NOTE])


TYPED_NOTE = ("Every question was asked as people often type it (`--typed lowercase`): lower case, "
              "no question mark; the gold answers are the same.")


def render_summary(results: dict[str, dict[str, Any]]) -> str:
    lines = ["# Eval summary", "",
             "Each suite is a gold file over its own corpus; dev is what we tune on, test is sealed "
             "(split by a fixed hash of the item id). Per-suite reports are in the folders beside this file.", ""]
    if any(r.get("typed", "as-written") != "as-written" for r in results.values()):
        lines += [TYPED_NOTE, ""]
    for suite, result in results.items():
        lines.append(f"- **{suite}**: `{result['gold'].get('path')}` ({result['gold']['n_items']} items) "
                     f"over {', '.join(f'`{c}`' for c in result['corpus'])}")
    feedback = suites_feedback(results)
    if feedback is not None:
        lines += ["", feedback_line(feedback)]
    lines += ["", summary_table(results), "", "## Support judge vs hand labels", "",
              "| suite | part | n | accuracy | kappa | FP | FN |", "|---|---|---:|---:|---:|---:|---:|"]
    for suite, result in results.items():
        brief = _judge_brief(result)
        if not brief:
            continue
        for part, s in {"all": brief, **brief["by_split"]}.items():
            lines.append(f"| {suite} | {part} | {s['n']} | {_fmt(s['accuracy'])} | {_fmt(s['kappa'])} "
                         f"| {s['fp']} | {s['fn']} |")
    return "\n".join(lines) + "\n"
