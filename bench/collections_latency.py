"""Ask latency with 10 collections open against one, in one process (as a server holds them).

    python bench/collections_latency.py            # 10 collections, 60 gold questions
    python bench/collections_latency.py --tiny     # fake encoder, seconds

Each named collection is the seeds indexed again (its own embedded Chroma,
BM25 and manifest in ``index_dir/collections/NAME``), opened through
``Assistant.for_collection`` the way the server opens one per request, and
warmed by one question. Rounds alternate the two scenarios on the same
warmed objects, so the machine's noise falls on both:

- ``one``: questions asked of the default collection only;
- ``ten``: questions asked of the 10 collections in turn (the default and 9
  named ones), all held open.

The questions are the seeds' gold questions, each asked once, alternating
between the scenarios, with the encoders' vector caches emptied before each.

The figure that matters is ``ten`` / ``one`` at p50 (same run, same encoders).
Also the process's resident memory with 1 and with 10 open. Writes
``collections.json`` and ``collections.md`` into ``bench/reports`` (or ``--out``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

from common import ROOT, make_embeddings, make_index_embeddings, percentile, rss_mb, write_report  # noqa: E402

GO_DEEPER = [  # as bench/run.py asks them
    "How is China enforcing its rare earth export restrictions?",
    "What steps is the US taking to reduce dependence on Chinese rare earths?",
    "Why are rare earths so critical to technology and defense industries?",
]


def _ask_ms(assistant, question: str) -> float:
    t0 = time.perf_counter()
    assistant.ask(question)
    return (time.perf_counter() - t0) * 1000


def run(collections: int, rounds: int, backend: str, out: Path) -> dict:
    from assistant import Assistant

    work = Path(tempfile.mkdtemp(prefix="bench-collections-"))
    embeddings = make_embeddings(backend)
    index_embeddings = make_index_embeddings(backend)
    root = Assistant(index_dir=work / "index", llm="extractive", embeddings=embeddings,
                     index_embeddings=index_embeddings)
    t0 = time.perf_counter()
    root.ingest([ROOT / "seeds"])
    names = [f"copy-{i:02d}" for i in range(1, collections)]
    for name in names:
        root.collections.create(name)
        root.for_collection(name).ingest([ROOT / "seeds"])
    build_s = time.perf_counter() - t0
    root.warm_up()
    _ask_ms(root, GO_DEEPER[0])
    memory_one = rss_mb()
    opened = [root] + [root.for_collection(name) for name in names]
    for assistant in opened:
        _ask_ms(assistant, GO_DEEPER[0])  # each collection's Chroma, BM25 and manifest loaded
    memory_ten = rss_mb()
    # Every ask a question not asked before, with the encoders' vector caches emptied: the
    # collections share one encoder (and here the same seed sentences), so repeats would time
    # cache hits. Neighbouring questions go to the two scenarios in turn.
    questions = [json.loads(line)["question"] for line in (ROOT / "eval" / "gold.jsonl").read_text().splitlines()]
    questions = questions[: rounds * 12]
    one: list[float] = []
    ten: list[float] = []
    for i, question in enumerate(questions):
        for encoder in (embeddings, index_embeddings):
            getattr(encoder, "_cache", {}).clear()
        if i % 2 == 0:
            one.append(_ask_ms(root, question))
        else:
            ten.append(_ask_ms(opened[(i // 2) % len(opened)], question))
    p50_one, p50_ten = statistics.median(one), statistics.median(ten)
    report = {
        "meta": {"date": datetime.now(UTC).isoformat(timespec="seconds"), "python": platform.python_version(),
                 "cpus": os.cpu_count(), "load_avg": list(os.getloadavg()), "backend": backend,
                 "collections": collections, "rounds": rounds, "build_s": round(build_s, 1)},
        "one": {"asks": len(one), "p50_ms": round(p50_one, 1), "p95_ms": round(percentile(one, 95), 1)},
        "ten": {"asks": len(ten), "p50_ms": round(p50_ten, 1), "p95_ms": round(percentile(ten, 95), 1)},
        "p50_ratio_ten_vs_one": round(p50_ten / p50_one, 3),
        "p95_ratio_ten_vs_one": round(percentile(ten, 95) / percentile(one, 95), 3),
        "rss_mb": {"one_open": memory_one, "ten_open": memory_ten},
    }
    shutil.rmtree(work, ignore_errors=True)
    write_report(out, "collections", report, _markdown(report))
    return report


def _markdown(r: dict) -> str:
    m = r["meta"]
    return "\n".join([
        "# Ask latency: 10 collections open vs 1",
        "",
        f"{m['date']} · {m['cpus']} CPUs · load {m['load_avg']} · encoder {m['backend']} · extractive · "
        f"{m['rounds'] * 12} gold questions, alternating (building the {m['collections']} collections: {m['build_s']} s)",
        "",
        "| scenario | asks | p50 ms | p95 ms |",
        "|---|---:|---:|---:|",
        f"| one collection open | {r['one']['asks']} | {r['one']['p50_ms']} | {r['one']['p95_ms']} |",
        f"| {m['collections']} collections open, asked in turn | {r['ten']['asks']} | {r['ten']['p50_ms']} | {r['ten']['p95_ms']} |",
        "",
        f"p50 ratio {r['p50_ratio_ten_vs_one']}, p95 ratio {r['p95_ratio_ten_vs_one']} (10 open / 1 open, same run).",
        "",
        f"Resident memory: {r['rss_mb']['one_open'].get('rss_mb')} MB with one open, "
        f"{r['rss_mb']['ten_open'].get('rss_mb')} MB with ten (each collection here is the two seed documents, "
        "so this is the per-collection overhead, not an index's size).",
        "",
    ])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tiny", action="store_true", help="fake encoder, 3 collections, 1 round")
    parser.add_argument("--out", type=Path, default=HERE / "reports")
    ns = parser.parse_args()
    if ns.tiny:
        report = run(3, 1, "fake", ns.out)
    else:
        from run import default_backend

        report = run(10, 5, default_backend(), ns.out)
    print(json.dumps({k: report[k] for k in ("one", "ten", "p50_ratio_ten_vs_one", "rss_mb")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
