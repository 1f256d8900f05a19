"""Markdown report and PNG plots for a benchmark run (``latest.md`` beside ``latest.json``)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def _fmt(v) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:,.3f}" if abs(v) < 10 else f"{v:,.1f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def plot_retrieval(report: dict, out: Path) -> str | None:
    rows = report.get("retrieval") or {}
    if not rows:
        return None
    sizes = sorted(int(s) for s in rows)
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    for mode, style in (("hybrid", "o-"), ("dense", "s-"), ("lexical", "^-"), ("raw_query", "x--")):
        a.plot(sizes, [rows[str(s)][mode]["p50_ms"] for s in sizes], style, label=f"{mode} p50")
        b.plot(sizes, [rows[str(s)][mode]["p95_ms"] for s in sizes], style, label=f"{mode} p95")
    for ax, title in ((a, "p50 latency"), (b, "p95 latency")):
        ax.set_xscale("log")
        ax.set_xlabel("chunks in the index")
        ax.set_ylabel("ms per query")
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    b.axhline(50, color="red", lw=0.8, ls=":", label="target hybrid p95")
    fig.tight_layout()
    name = "retrieval_latency.png"
    fig.savefig(out / name, dpi=110)
    plt.close(fig)
    return name


def plot_memory(report: dict, out: Path) -> str | None:
    rows = report.get("retrieval") or {}
    if not rows:
        return None
    sizes = sorted(int(s) for s in rows)
    fig, ax = plt.subplots(figsize=(6, 3.6))
    ax.plot(sizes, [rows[str(s)]["process_rss_mb"] for s in sizes], "o-", label="query process RSS (MB)")
    ax.plot(sizes, [rows[str(s)]["index_bytes"] / 2**20 for s in sizes], "s-", label="index on disk (MB)")
    ax.axhline(1536, color="red", lw=0.8, ls=":", label="RSS target 1.5 GB")
    ax.set_xscale("log")
    ax.set_xlabel("chunks in the index")
    ax.set_ylabel("MB")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    name = "retrieval_memory.png"
    fig.savefig(out / name, dpi=110)
    plt.close(fig)
    return name


def plot_ingest(report: dict, out: Path) -> str | None:
    backends = (report.get("ingest") or {}).get("backends") or {}
    if not backends:
        return None
    names = list(backends)
    raw = [backends[n]["raw_encode_chunks_per_s"] for n in names]
    ing = [backends[n].get("ingest_chunks_per_s", 0) for n in names]
    fig, ax = plt.subplots(figsize=(6.5, 3.6))
    x = range(len(names))
    ax.bar([i - 0.2 for i in x], raw, width=0.4, label="raw encoder (same backend)")
    ax.bar([i + 0.2 for i in x], ing, width=0.4, label="our ingest")
    base = report.get("raw_encode_chunks_per_s")
    if base:
        ax.axhline(base * 0.9, color="red", lw=0.8, ls=":", label="0.9 x SentenceTransformer.encode")
    ax.set_xticks(list(x), names)
    ax.set_ylabel("chunks / s")
    ax.set_title(f"Ingest vs raw encode, {report['ingest']['corpus']['chunks']} chunks")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    name = "ingest_throughput.png"
    fig.savefig(out / name, dpi=110)
    plt.close(fig)
    return name


def plot_latency(report: dict, out: Path) -> str | None:
    bars: list[tuple[str, float]] = []
    for gen, row in (report.get("answer") or {}).items():
        bars.append((f"{gen}\nfirst token", row["first_token_p50_s"]))
        bars.append((f"{gen}\ntotal", row["total_p50_s"]))
    for backend, row in ((report.get("cold_start") or {}).get("backends") or {}).items():
        for key, value in row.items():
            if key.endswith("_samples_s"):
                continue
            bars.append((f"cold ask\n{key.removeprefix('ask_json_').removesuffix('_s')}\n{backend}", value))
    if not bars:
        return None
    fig, ax = plt.subplots(figsize=(max(6, 1.1 * len(bars)), 3.8))
    ax.bar(range(len(bars)), [v for _, v in bars], color="tab:blue")
    ax.set_xticks(range(len(bars)), [n for n, _ in bars], fontsize=7)
    ax.set_ylabel("seconds (p50, log scale)")
    ax.set_yscale("log")
    ax.set_title("Answer latency (warm) and cold start (fresh process)")
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    name = "answer_and_cold_start.png"
    fig.savefig(out / name, dpi=110)
    plt.close(fig)
    return name


def write_markdown(report: dict, out: Path) -> Path:
    meta = report["meta"]
    lines = [
        f"# Benchmark report ({meta['mode']})",
        "",
        f"Run {meta['date']} on commit `{meta.get('commit')}`, {meta['cpus']} CPUs, Python {meta['python']}; "
        f"load average {meta['load_avg_start'][0]:.1f} at start, {meta.get('load_avg_end', [0])[0]:.1f} at end "
        f"(a shared machine: compare ratios, not absolute times). Default embedding backend: "
        f"`{meta['default_embedding_backend']}`.",
        "",
    ]
    for run in meta.get("merged_from") or []:
        lines.append(f"- sections {', '.join(run['sections'])} from a `{run['mode']}` run started {run['date']} "
                     f"(load average {run['load_avg_start'][0]:.1f} at its start; 0.0 = not recorded)")
    for note in meta.get("notes") or []:
        lines += ["", f"> {note}"]
    lines += [
        "",
        "## Targets",
        "",
        "| figure | value | target | pass | note |",
        "|---|---|---|---|---|",
    ]
    for t in report.get("targets", []):
        mark = "—" if t["pass"] is None else ("PASS" if t["pass"] else "FAIL")
        lines.append(f"| {t['name']} | {_fmt(t['value'])} | {t['target']} | {mark} | {t['note']} |")
    ingest = report.get("ingest")
    if ingest:
        c = ingest["corpus"]
        lines += [
            "",
            "## Ingest",
            "",
            f"Corpus: {c['documents']} documents, {c['chunks']} chunks, {c['bytes']:,} bytes — {c['how']}. "
            f"Baseline: {ingest['baseline']}. Ingest is `Assistant.ingest` into a fresh temp index with the "
            "encoder already loaded (the baseline excludes model load too); it includes parsing, chunking, "
            "Chroma writes, the manifest and the BM25 build.",
            "",
            "| backend | raw encode chunks/s | ingest chunks/s | ingest / torch raw | ingest / own raw | "
            "unchanged re-ingest s (ratio) | cosine to torch min / mean | dense top-8 overlap vs torch |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for name, row in ingest["backends"].items():
            agree = (ingest.get("retrieval_agreement") or {}).get(name, {})
            lines.append(
                f"| {name} | {_fmt(row['raw_encode_chunks_per_s'])} | {_fmt(row.get('ingest_chunks_per_s'))} | "
                f"{_fmt(row.get('ingest_vs_torch_raw_encode_ratio'))} | {_fmt(row.get('pipeline_vs_own_encoder_ratio'))} | "
                f"{_fmt(row.get('reingest_unchanged_s'))} ({_fmt(row.get('reingest_unchanged_vs_full_ratio'))}) | "
                f"{row['cosine_to_torch']['min']:.4f} / {row['cosine_to_torch']['mean']:.4f} | "
                f"{_fmt(agree.get('overlap_at_8'))} |"
            )
        for name, row in ingest["backends"].items():
            e = row.get("reingest_one_edited_doc")
            if e:
                lines += ["", f"Re-ingest after editing one document ({name}): {e['seconds']} s, "
                          f"{e['chunks_embedded']} of its {e['chunks_in_doc']} chunks embedded again "
                          "(the rest reuse their stored vectors, keyed by chunk content hash)."]
        for name, row in ingest["backends"].items():
            if len(row.get("raw_encode_samples_s", [])) > 1 or len(row.get("ingest_samples_s", [])) > 1:
                lines += ["", f"Rounds ({name}, seconds, alternating; the table shows the best of each, as "
                          f"`timeit` does, because this VM's speed swings between minutes): raw encode "
                          f"{row.get('raw_encode_samples_s')}, ingest {row.get('ingest_samples_s', '—')}."]
    retrieval = report.get("retrieval")
    if retrieval:
        lines += [
            "",
            "## Retrieval",
            "",
            "Each size is queried in a fresh process that opens the store as a server would (persisted BM25 "
            "loaded, not rebuilt). Queries: the gold questions, interleaved across modes; query vectors are "
            "embedded once up front, so the figures are retrieval only (query encode time is shown apart). "
            "`raw_query` is `collection.query(n_results=fetch_k, include=documents, metadatas, distances)` on the "
            "same collection.",
            "",
            "| chunks | vectors | hybrid p50/p95 ms | dense p50/p95 | lexical p50/p95 | raw query p50/p95 | "
            "dense / raw (p50) | query encode ms | BM25 load s | index MB | RSS MB |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for size in sorted(retrieval, key=int):
            r = retrieval[size]
            cells = [f"{r[m]['p50_ms']:.1f} / {r[m]['p95_ms']:.1f}" for m in ("hybrid", "dense", "lexical", "raw_query")]
            kind = "synthetic" if str(r.get("vectors", "")).startswith("synthetic") else "real"
            lines.append(
                f"| {int(size):,} | {kind} | {' | '.join(cells)} | {_fmt(r['dense_vs_raw_p50'])} | "
                f"{_fmt(r.get('query_encode_ms'))} | {_fmt(r.get('snapshot_load_s'))} | "
                f"{r['index_bytes'] / 2**20:,.1f} | {_fmt(r['process_rss_mb'])} |"
            )
        synth = [r["vectors"] for r in retrieval.values() if str(r.get("vectors", "")).startswith("synthetic")]
        if synth:
            lines += ["", f"Synthetic vectors: {synth[0]}. Stores up to 10k chunks are built by `Index.ingest`; larger ones by bulk `collection.add` + manifest + the same BM25 build (see each row's `build` in latest.json)."]
        builds = [(s, r) for s, r in retrieval.items() if "build_s" in r]
        if builds:
            lines += ["", "Store builds with synthetic vectors (no encoder): " + "; ".join(
                f"{int(s):,} chunks in {r['build_s']} s ("
                + (f"{r['build_chunks_per_s_without_encoder']} chunks/s through Index.ingest"
                   if "build_chunks_per_s_without_encoder" in r else r.get("build", "bulk"))
                + ")" for s, r in builds)]
    answer = report.get("answer")
    if answer:
        lines += ["", "## Answers (warm, p50 over the three Go deeper questions)", "",
                  "| generator | first token s | total s | warm-up s |", "|---|---|---|---|"]
        for gen, row in answer.items():
            lines.append(f"| {gen} | {_fmt(row['first_token_p50_s'])} | {_fmt(row['total_p50_s'])} | {_fmt(row['warm_up_s'])} |")
    cold = report.get("cold_start")
    if cold:
        lines += ["", "## Cold start", "",
                  f"`assistant ask --json --llm GEN \"{cold['question']}\"` as a fresh process over a seeds index "
                  "(median wall time of the samples):", "", "| embedding backend | generator | median s | samples s |",
                  "|---|---|---|---|"]
        for backend, row in cold["backends"].items():
            for key, value in row.items():
                if key.endswith("_samples_s"):
                    continue
                generator = key.removeprefix("ask_json_").removesuffix("_s")
                samples = row.get(f"ask_json_{generator}_samples_s", "—")
                lines.append(f"| {backend} | {generator} | {_fmt(value)} | {samples} |")
        lines += ["", f"`Assistant()` construction: {cold['assistant_construct_ms']} ms (after "
                  f"`import assistant`, which takes {cold['import_assistant_s']} s).", "",
                  "Fresh-process import times (s): " + ", ".join(f"`{k}` {v}" for k, v in cold["import_costs_s"].items())]
    naive = report.get("langchain_naive")
    if naive:
        lines += ["", "## The naive LangChain recipe", "", naive["recipe"] + ".", ""]
        if "ingest_s" in naive:
            lines.append(f"Ingest of the same corpus: naive {naive['ingest_s']} s ({naive['chunks']} chunks of 1000 chars) "
                         f"vs ours {naive['ours_ingest_s']} s: ratio {naive['ours_vs_naive_ingest_time_ratio']}.")
        ev = naive.get("eval")
        if isinstance(ev, dict):
            lines += ["", "Eval on the seeds with `eval/gold.jsonl` (fact recall = share of required facts whose "
                      "accepted spelling appears; scored by bench/run.py's own scorer):", "",
                      "| system | answer fact recall | context fact recall | abstains on unanswerable | "
                      "false abstain | s / question | items |", "|---|---|---|---|---|---|---|"]
            for name, row in ev.items():
                lines.append(f"| {name} | {_fmt(row['answer_fact_recall'])} | {_fmt(row['context_fact_recall'])} | "
                             f"{_fmt(row['abstain_on_unanswerable'])} | {_fmt(row['false_abstain_on_answerable'])} | "
                             f"{_fmt(row['seconds_per_question'])} | {row['items']} |")
        elif ev:
            lines.append(str(ev))
    prof = report.get("profile")
    if prof and "ingest_s" in prof:
        lines += ["", "## Profile (pyinstrument, ingest of a corpus slice)", "",
                  f"{prof['ingest_s']} s: encoder {prof['encoder_share']:.0%}, Chroma {prof['chroma_share']:.0%}, "
                  f"everything else {prof['other_share']:.0%}. Full tree: `{prof['file']}`."]
    plots = [p for p in (plot_ingest(report, out), plot_retrieval(report, out), plot_memory(report, out),
                         plot_latency(report, out)) if p]
    if plots:
        lines += ["", "## Plots", ""] + [f"![{p}]({p})" for p in plots]
    if report.get("errors"):
        lines += ["", "## Sections that failed", ""] + [f"- {k}: `{v.splitlines()[0]}`" for k, v in report["errors"].items()]
    path = out / "latest.md"
    path.write_text("\n".join(lines) + "\n")
    return path
