"""The report's required keys and the issue's targets, in one place for run.py and the tests."""

from __future__ import annotations

from typing import Any

REQUIRED_TOP = [
    "meta",
    "ingest_chunks_per_s",
    "raw_encode_chunks_per_s",
    "ingest_vs_raw_encode_ratio",
    "reingest_unchanged_vs_full_ratio",
    "retrieval",
    "answer",
    "cold_start",
    "langchain_naive",
    "targets",
]
RETRIEVAL_MODES = ["hybrid", "dense", "lexical", "raw_query"]
RETRIEVAL_FIELDS = ["index_bytes", "process_rss_mb", "dense_vs_raw_p50", "chunks"]


def _get(report: dict, path: str) -> Any:
    node: Any = report
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _largest(report: dict) -> str | None:
    sizes = [int(s) for s in (report.get("retrieval") or {})]
    return str(max(sizes)) if sizes else None


def evaluate_targets(report: dict) -> list[dict]:
    """Each figure the issue sets a target for: value, target, pass (None when not measured)."""
    big = _largest(report)
    answer_llm = "llamacpp" if _get(report, "answer.llamacpp") else "extractive"
    rows = [
        ("ingest_vs_raw_encode_ratio", report.get("ingest_vs_raw_encode_ratio"), ">=", 0.90, "ingest vs SentenceTransformer.encode"),
        ("reingest_unchanged_vs_full_ratio", report.get("reingest_unchanged_vs_full_ratio"), "<=", 0.02, "unchanged re-ingest vs full"),
        (f"hybrid_p95_ms@{big}", _get(report, f"retrieval.{big}.hybrid.p95_ms"), "<=", 50.0, "target set at 100k chunks"),
        (f"dense_vs_raw_query_p50@{big}", _get(report, f"retrieval.{big}.dense_vs_raw_p50"), "<=", 1.5, "our dense retriever vs raw collection.query"),
        (f"rss_mb@{big}", _get(report, f"retrieval.{big}.process_rss_mb"), "<=", 1536.0, "query process RSS (1.5 GB)"),
        (f"answer_first_token_p50_s ({answer_llm})", _get(report, f"answer.{answer_llm}.first_token_p50_s"), "<=", 1.5, "Go deeper questions"),
        (f"answer_total_p50_s ({answer_llm})", _get(report, f"answer.{answer_llm}.total_p50_s"), "<=", 6.0, "Go deeper questions"),
        ("cold_start_ask_json_s", _get(report, "cold_start.ask_json_s"), "<=", 8.0, "fresh `assistant ask --json`"),
        ("assistant_construct_ms", _get(report, "cold_start.assistant_construct_ms"), "<=", 50.0, "Assistant() after import"),
        ("ours_vs_naive_ingest_time_ratio", _get(report, "langchain_naive.ours_vs_naive_ingest_time_ratio"), "<=", 1.0, "ours at least as fast"),
    ]
    naive = _get(report, "langchain_naive.eval") or {}
    if isinstance(naive, dict):
        theirs = next((v for k, v in naive.items() if k.startswith("naive_")), None)
        ours = naive.get("ours_llamacpp") or naive.get("ours_extractive")
        if theirs and ours:
            rows.append(("ours_minus_naive_answer_fact_recall",
                         round(ours["answer_fact_recall"] - theirs["answer_fact_recall"], 3), ">", 0.0, "better on the eval"))
    out = []
    for name, value, op, target, note in rows:
        ok = None
        if isinstance(value, (int, float)):
            ok = value >= target if op == ">=" else value <= target if op == "<=" else value > target
        out.append({"name": name, "value": value, "target": f"{op} {target:g}", "pass": ok, "note": note})
    return out


def validate_report(report: dict, partial: bool = False) -> list[str]:
    """Problems with a report's shape (empty list = well formed).

    ``partial`` (a ``--only`` run) accepts missing sections but still checks
    the ones present.
    """
    problems = []
    for key in REQUIRED_TOP:
        if key not in report or (report[key] is None and not partial):
            problems.append(f"missing key {key!r}")
    for key in ("ingest_chunks_per_s", "raw_encode_chunks_per_s", "ingest_vs_raw_encode_ratio",
                "reingest_unchanged_vs_full_ratio"):
        if key in report and not isinstance(report[key], (int, float)):
            problems.append(f"{key} is not a number: {report[key]!r}")
    for size, row in (report.get("retrieval") or {}).items():
        if not size.isdigit():
            problems.append(f"retrieval size {size!r} is not a chunk count")
        for mode in RETRIEVAL_MODES:
            cell = (row or {}).get(mode) or {}
            if not all(isinstance(cell.get(k), (int, float)) for k in ("p50_ms", "p95_ms")):
                problems.append(f"retrieval.{size}.{mode} lacks p50_ms/p95_ms")
        for field in RETRIEVAL_FIELDS:
            if field not in (row or {}):
                problems.append(f"retrieval.{size} lacks {field}")
    for generator, row in (report.get("answer") or {}).items():
        for k in ("first_token_p50_s", "total_p50_s"):
            if not isinstance((row or {}).get(k), (int, float)):
                problems.append(f"answer.{generator}.{k} missing")
    cold = report.get("cold_start") or {}
    if report.get("cold_start") is not None and "assistant_construct_ms" not in cold:
        problems.append("cold_start.assistant_construct_ms missing")
    if not isinstance(report.get("targets"), list) or not report.get("targets"):
        problems.append("targets missing")
    if report.get("errors") and not partial:
        problems.append(f"sections failed: {', '.join(report['errors'])}")
    return problems
