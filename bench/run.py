"""Performance benchmarks: every figure next to a baseline measured in the same run.

    python bench/run.py            # full: ingest >= 1,000 chunks, retrieval at 1k/10k/100k
    python bench/run.py --quick    # the same sections at small sizes, < 5 minutes
    python bench/run.py --tiny     # seconds, fake encoder: checks the machinery (integration test)

Writes ``latest.json``, ``latest.md`` and PNG plots into ``bench/reports/`` (or
``--out``). The machine is shared and noisy, so the figures that matter are
ratios against a baseline taken minutes apart in the same run (raw encoder vs
ingest, raw ``collection.query`` vs our retriever, full vs unchanged re-ingest).
Benchmarks are not tests; ``tests/unit/test_bench_report.py`` and
``tests/integration/test_bench_run.py`` only check that a report is well formed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from common import BIN, PYTHON, ROOT, bench_env, make_embeddings, make_index_embeddings, run_json  # noqa: E402
from corpus import write_corpus  # noqa: E402
from schema import evaluate_targets, validate_report  # noqa: E402

GO_DEEPER = [
    "How is China enforcing its rare earth export restrictions?",
    "What steps is the US taking to reduce dependence on Chinese rare earths?",
    "Why are rare earths so critical to technology and defense industries?",
]

MODES = {
    # ingest_chunks, backends, retrieval sizes, query rounds, cold-start repeats, gold items
    "full": dict(ingest_chunks=1060, ingest_rounds=3, backends=["torch", "onnx", "onnx-int8"], sizes=[1000, 10_000, 100_000],
                 rounds=2, cold_repeats=3, gold_items=12, llm=True, side_subset=200),
    "quick": dict(ingest_chunks=160, ingest_rounds=2, backends=["torch", "onnx", "onnx-int8"], sizes=[160, 2000],
                  rounds=1, cold_repeats=1, gold_items=5, llm=True, side_subset=60),
    "tiny": dict(ingest_chunks=30, backends=["fake"], sizes=[30], rounds=1, cold_repeats=0, gold_items=3, llm=False,
                 in_process=True),
}


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ----- encoders ------------------------------------------------------------------------------
def default_backend() -> str:
    from assistant.settings import Settings

    return Settings().embedding_backend


def raw_encoder(backend: str):
    """The baseline encoder with nothing of ours around it: a callable texts -> ndarray."""
    import numpy as np

    if backend == "fake":
        emb = make_embeddings("fake")
        return lambda texts: np.asarray(emb.encode(texts))
    from assistant.models.embeddings import (
        OnnxSentenceEncoder,
        ensure_onnx_export,
        packaged_model_path,
    )

    path = packaged_model_path()
    if backend == "torch":
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(str(path), device="cpu")
    else:
        from assistant.models.embeddings import default_onnx_cache_dir

        model = OnnxSentenceEncoder(path, ensure_onnx_export(path, default_onnx_cache_dir(), backend == "onnx-int8"))
    return lambda texts: model.encode(texts, batch_size=32, normalize_embeddings=True, show_progress_bar=False)


def corpus_chunk_texts(folder: Path) -> list[str]:
    from assistant.ingest.chunking import chunk_document
    from assistant.ingest.documents import load_documents

    docs, _ = load_documents([folder], 10**8)
    return [c.embedding_text() for d in docs for c in chunk_document(d)]


# ----- 1, 2: ingest ----------------------------------------------------------------------------
def bench_ingest(cfg: dict, work: Path, default: str) -> dict:
    """Raw encode vs ingest per backend (interleaved), re-ingest, encoder fidelity."""
    # One-off process costs (imports) are paid before any clock starts, on both sides.
    import bm25s  # noqa: F401
    import chromadb  # noqa: F401
    import numpy as np

    from assistant import Assistant

    corpus = work / "corpus"
    info = write_corpus(corpus, cfg["ingest_chunks"])
    texts = corpus_chunk_texts(corpus)
    info["chunks"] = len(texts)
    log(f"ingest corpus: {info['documents']} documents, {len(texts)} chunks")
    out: dict = {"corpus": info, "backends": {}}
    vectors, queries = {}, {}
    for backend in cfg["backends"]:
        row: dict = {}
        encode = raw_encoder(backend)
        encode(texts[:8])  # load + warm
        # The baseline (torch) and the default backend encode every chunk; a side
        # backend only a subset, for its fidelity and speed (time: a shared machine).
        subset = texts if backend in ("torch", default) else texts[: cfg.get("side_subset") or len(texts)]
        t0 = time.perf_counter()
        vectors[backend] = np.asarray(encode(subset), dtype=np.float32)
        raw_s = time.perf_counter() - t0
        row["raw_encode_s"] = round(raw_s, 2)
        row["raw_encode_chunks"] = len(subset)
        row["raw_encode_chunks_per_s"] = round(len(subset) / raw_s, 2)
        qs = gold_questions()[:20] or GO_DEEPER
        queries[backend] = np.asarray(encode(qs), dtype=np.float32)
        del encode
        if backend != default:
            out["backends"][backend] = row
            log(f"{backend}: raw {row['raw_encode_chunks_per_s']}/s (no ingest: not the default backend)")
            continue
        index_dir = work / f"index-{backend}"
        assistant = Assistant(index_dir=index_dir, llm="extractive", embeddings=make_embeddings(backend))
        assistant.embeddings.warm_up()  # the raw side excludes model load too
        t0 = time.perf_counter()
        report = assistant.ingest([corpus])
        ingest_s = time.perf_counter() - t0
        assert report.chunks_added == len(texts), (report.chunks_added, len(texts))
        t0 = time.perf_counter()
        again = assistant.ingest([corpus])
        reingest_s = time.perf_counter() - t0
        assert not again.added and not again.updated
        # Edit one document (a new sentence at the end of its first paragraph): only the
        # chunks whose text changed should be embedded again.
        edited = sorted(corpus.glob("*.md"))[len(list(corpus.glob("*.md"))) // 2]
        original = edited.read_text(encoding="utf-8")
        lines = original.split("\n")
        para = next(i for i, line in enumerate(lines) if line and not line.startswith("#"))
        lines[para] += " An added sentence about magnets changes this paragraph."
        edited.write_text("\n".join(lines), encoding="utf-8")
        counted = {"n": 0}
        real_encode = assistant.embeddings.encode

        def counting(texts, _real=real_encode, _counted=counted):
            _counted["n"] += len(texts)
            return _real(texts)

        assistant.embeddings.encode = counting
        t0 = time.perf_counter()
        upd = assistant.ingest([corpus])
        edit_s = time.perf_counter() - t0
        assistant.embeddings.encode = real_encode
        edited.write_text(original, encoding="utf-8")
        doc_chunks = len(assistant.index.manifest().documents[edited.stem].chunk_ids)
        row["reingest_one_edited_doc"] = {"seconds": round(edit_s, 3), "updated": len(upd.updated),
                                          "chunks_in_doc": doc_chunks, "chunks_embedded": counted["n"]}
        row.update(
            ingest_s=round(ingest_s, 2),
            ingest_chunks_per_s=round(len(texts) / ingest_s, 2),
            pipeline_vs_own_encoder_ratio=round(raw_s / ingest_s, 3),
            reingest_unchanged_s=round(reingest_s, 3),
            reingest_unchanged_vs_full_ratio=round(reingest_s / ingest_s, 4),
            index_dir=str(index_dir),
        )
        out["backends"][backend] = row
        log(f"{backend}: raw {row['raw_encode_chunks_per_s']}/s, ingest {row['ingest_chunks_per_s']}/s, "
            f"re-ingest {reingest_s:.2f}s")
    base = "torch" if "torch" in vectors else cfg["backends"][0]
    extra_ingest_rounds(cfg, work, corpus, texts, out["backends"], base, default)
    raw_base = out["backends"][base]["raw_encode_chunks_per_s"]
    for backend, row in out["backends"].items():
        if "ingest_chunks_per_s" in row:
            row["ingest_vs_torch_raw_encode_ratio"] = round(row["ingest_chunks_per_s"] / raw_base, 3)
        row["raw_speedup_vs_torch"] = round(row["raw_encode_chunks_per_s"] / raw_base, 3)
        n = len(vectors[backend])
        cos = (vectors[backend] * vectors[base][:n]).sum(axis=1)
        row["cosine_to_torch"] = {"min": round(float(cos.min()), 5), "mean": round(float(cos.mean()), 5)}
    out["retrieval_agreement"] = dense_agreement(vectors, queries, base)
    chosen = out["backends"].get(default) or out["backends"][base]
    out["default_backend"] = default if default in out["backends"] else base
    out["baseline"] = f"SentenceTransformer.encode ({base}), batch 32, same chunk texts, model loaded"
    return out, chosen, raw_base


def extra_ingest_rounds(cfg: dict, work: Path, corpus: Path, texts: list[str], rows: dict, base: str,
                        default: str) -> None:
    """More baseline-encode / ingest pairs, alternating; each figure becomes the best of its rounds.

    This VM's speed swings by +-15% from minute to minute (host neighbours), so
    one pair can pass or fail the 0.90 target on noise alone. Best-of-n, as
    ``timeit`` reports, is the figure least disturbed by interference; every
    sample is kept in the JSON.
    """
    from assistant import Assistant

    if default not in rows or "ingest_s" not in rows[default]:
        return
    n = len(texts)
    for row in (rows[base], rows[default]):
        row.setdefault("raw_encode_samples_s", [row["raw_encode_s"]])
    rows[default]["ingest_samples_s"] = [rows[default]["ingest_s"]]
    for r in range(1, cfg.get("ingest_rounds", 1)):
        for backend in dict.fromkeys([base, default]):
            encode = raw_encoder(backend)
            encode(texts[:8])
            t0 = time.perf_counter()
            encode(texts)
            rows[backend]["raw_encode_samples_s"].append(round(time.perf_counter() - t0, 2))
            del encode
        assistant = Assistant(index_dir=work / f"index-{default}-round{r}", llm="extractive",
                              embeddings=make_embeddings(default))
        assistant.embeddings.warm_up()
        t0 = time.perf_counter()
        assistant.ingest([corpus])
        rows[default]["ingest_samples_s"].append(round(time.perf_counter() - t0, 2))
        log(f"ingest round {r + 1}: raw {rows[base]['raw_encode_samples_s'][-1]}s ({base}), "
            f"ingest {rows[default]['ingest_samples_s'][-1]}s ({default})")
    for backend in dict.fromkeys([base, default]):
        row = rows[backend]
        if row.get("raw_encode_chunks") == n:  # a side backend's subset keeps its single sample
            row["raw_encode_s"] = min(row["raw_encode_samples_s"])
            # Times are rounded to 10 ms; a fake encoder can take less (--tiny), hence the floor.
            row["raw_encode_chunks_per_s"] = round(n / max(row["raw_encode_s"], 0.005), 2)
    row = rows[default]
    row["ingest_s"] = min(row["ingest_samples_s"])
    row["ingest_chunks_per_s"] = round(n / max(row["ingest_s"], 0.005), 2)
    row["pipeline_vs_own_encoder_ratio"] = round(row["raw_encode_s"] / max(row["ingest_s"], 0.005), 3)
    row["reingest_unchanged_vs_full_ratio"] = round(row["reingest_unchanged_s"] / max(row["ingest_s"], 0.005), 4)


def dense_agreement(vectors: dict, queries: dict, base: str) -> dict:
    """Top-8 chunks by cosine for the gold questions, each backend's vectors vs the baseline's."""
    import numpy as np

    n = min(len(v) for v in vectors.values())

    def top8(b):
        return np.argsort(-(queries[b] @ vectors[b][:n].T), axis=1)[:, :8]

    ref = top8(base)
    out = {}
    for backend in vectors:
        got = top8(backend)
        overlap = [len(set(a) & set(r)) / 8 for a, r in zip(got.tolist(), ref.tolist(), strict=True)]
        out[backend] = {"overlap_at_8": round(statistics.fmean(overlap), 3),
                        "top1_same": round(float(np.mean(got[:, 0] == ref[:, 0])), 3)}
    return out


# ----- 3: retrieval ----------------------------------------------------------------------------
def bench_retrieval(cfg: dict, work: Path, default: str, ingest: dict) -> dict:
    out = {}
    backend = default if default in ingest["backends"] else next(iter(ingest["backends"]))
    # The smallest size is the ingest corpus itself (real vectors), at its real chunk count.
    sizes = [ingest["corpus"]["chunks"]] + [s for s in cfg["sizes"][1:]]
    for size in sizes:
        row: dict = {}
        real = ingest["backends"][backend]
        if size <= ingest["corpus"]["chunks"]:
            index_dir = Path(real["index_dir"])  # the ingest corpus, real vectors
            row["vectors"] = f"real MiniLM ({backend}) vectors of the {ingest['corpus']['chunks']}-chunk ingest corpus"
        else:
            index_dir = (cfg.get("store_cache") or work) / f"retrieval-{size}"
            cached = index_dir / "build.json"
            deadline = time.time() + 2400
            while index_dir.exists() and not cached.exists() and time.time() < deadline:
                time.sleep(10)  # another process is building this store into the cache
            if cached.exists():  # --store-cache: a store built earlier; only queries are timed here
                built = json.loads(cached.read_text())
                built["reused_store"] = str(index_dir)
            else:
                log(f"building a {size:,}-chunk store (synthetic vectors)")
                built, _ = run_json([PYTHON, str(HERE / "retrieval_worker.py"), "build", str(size), str(index_dir),
                                     "--backend", backend])
                cached.write_text(json.dumps(built))
            row.update(built)
        log(f"querying {size:,} chunks")
        if cfg.get("in_process"):  # --tiny: no fresh process (RSS is this process's)
            import retrieval_worker

            got = retrieval_worker.query(index_dir, backend, cfg["rounds"], max_questions=10)
        else:
            got, _ = run_json([PYTHON, str(HERE / "retrieval_worker.py"), "query", str(index_dir),
                               "--backend", backend, "--rounds", str(cfg["rounds"])])
        row.update(got)
        out[str(size)] = row
        log(f"{size:,}: hybrid p95 {got['hybrid']['p95_ms']} ms, dense/raw {got['dense_vs_raw_p50']}, "
            f"rss {got['process_rss_mb']} MB")
    return out


# ----- 4: answers ------------------------------------------------------------------------------
def seeds_index(work: Path, backend: str) -> Path:
    from assistant import Assistant

    index_dir = work / f"seeds-{backend}-index-default"
    if not (index_dir / "manifest.json").exists():
        Assistant(index_dir=index_dir, llm="extractive", embeddings=make_embeddings(backend),
                  index_embeddings=make_index_embeddings(backend)).ingest([ROOT / "seeds"])
    return index_dir


def bench_answer(cfg: dict, work: Path, backend: str) -> dict:
    from assistant import Assistant
    from assistant.answer import Answer

    index_dir = seeds_index(work, backend)
    out = {}
    generators = ["extractive"] + (["llamacpp"] if cfg["llm"] else [])
    embeddings = make_embeddings(backend)
    index_embeddings = make_index_embeddings(backend)  # as shipped: e5 for the chunk index
    for generator in generators:
        assistant = Assistant(index_dir=index_dir, llm=generator, embeddings=embeddings,
                              index_embeddings=index_embeddings)
        t0 = time.perf_counter()
        assistant.warm_up()
        warm_s = time.perf_counter() - t0
        rows = []
        for q in GO_DEEPER:
            t0 = time.perf_counter()
            first = None
            answer = None
            for event in assistant.stream(q):
                if isinstance(event, Answer):
                    answer = event
                elif first is None:
                    first = time.perf_counter() - t0
            total = time.perf_counter() - t0
            rows.append({"question": q, "first_token_s": round(first or total, 3), "total_s": round(total, 3),
                         "abstained": answer.abstained, "citations": len(answer.citations),
                         "timings": answer.timings})
        out[generator] = {
            "first_token_p50_s": round(statistics.median(r["first_token_s"] for r in rows), 3),
            "total_p50_s": round(statistics.median(r["total_s"] for r in rows), 3),
            "warm_up_s": round(warm_s, 2),
            "questions": rows,
        }
        log(f"answer {generator}: first token {out[generator]['first_token_p50_s']}s, "
            f"total {out[generator]['total_p50_s']}s")
    return out


# ----- 5: cold start ---------------------------------------------------------------------------
CONSTRUCT = (
    "import time, json; t0 = time.perf_counter(); from assistant import Assistant; t1 = time.perf_counter(); "
    "a = Assistant(); t2 = time.perf_counter(); "
    "print(json.dumps({'import_s': t1 - t0, 'construct_s': t2 - t1}))"
)


def bench_cold_start(cfg: dict, work: Path, backends: list[str], default: str) -> dict:
    out: dict = {"question": GO_DEEPER[0], "backends": {}}
    for backend in backends:
        if backend == "fake" or backend not in ("torch", default):  # the old default and the new one
            continue
        index_dir = seeds_index(work, backend)
        env = bench_env(ASSISTANT_INDEX_DIR=index_dir, ASSISTANT_EMBEDDING_BACKEND=backend)
        row: dict = {}
        for generator in ("extractive", "llamacpp") if cfg["llm"] and backend == default else ("extractive",):
            walls = []
            for _ in range(max(1, cfg["cold_repeats"])):
                t0 = time.perf_counter()
                proc = subprocess.run([str(BIN / "assistant"), "ask", "--json", "--llm", generator, GO_DEEPER[0]],
                                      capture_output=True, text=True, env=env, cwd=work, timeout=600)
                walls.append(time.perf_counter() - t0)
                if proc.returncode != 0:
                    raise RuntimeError(f"assistant ask failed: {proc.stderr[-1500:]}")
                json.loads(proc.stdout)  # ask --json prints exactly one JSON object
            row[f"ask_json_{generator}_s"] = round(statistics.median(walls), 2)
            row[f"ask_json_{generator}_samples_s"] = [round(w, 2) for w in walls]
        out["backends"][backend] = row
        log(f"cold start {backend}: {row}")
    constructs, imports = [], []
    for _ in range(3 if cfg["cold_repeats"] else 0):
        got, _ = run_json([PYTHON, "-c", CONSTRUCT], env=bench_env(ASSISTANT_INDEX_DIR=work / "unused"))
        constructs.append(got["construct_s"])
        imports.append(got["import_s"])
    if not constructs:  # --tiny: in this process, after the import
        from assistant import Assistant

        t0 = time.perf_counter()
        Assistant(index_dir=work / "unused")
        constructs.append(time.perf_counter() - t0)
        imports.append(0.0)
    out["assistant_construct_ms"] = round(statistics.median(constructs) * 1000, 2)
    out["import_assistant_s"] = round(statistics.median(imports), 3)
    shown = out["backends"].get(default) or next(iter(out["backends"].values()), {})
    out["ask_json_s"] = shown.get("ask_json_llamacpp_s", shown.get("ask_json_extractive_s"))
    out["ask_json_backend"] = default
    out["import_costs_s"] = import_costs() if cfg["cold_repeats"] else {}
    return out


def import_costs() -> dict:
    """Fresh-process import times of the heavy modules a cold ask could touch."""
    out = {}
    for mod in ("sentence_transformers", "torch", "onnxruntime", "chromadb", "llama_cpp", "assistant.assistant"):
        try:
            got, _ = run_json([PYTHON, "-c", f"import time, json; t=time.perf_counter(); import {mod}; "
                               "print(json.dumps({'s': time.perf_counter() - t}))"])
            out[mod] = round(got["s"], 2)
        except Exception as exc:  # a missing optional module is a finding, not a crash
            out[mod] = f"failed: {exc}"[:200]
    return out


# ----- 6: the naive LangChain recipe -----------------------------------------------------------
NAIVE_PROMPT = (
    "Use the following pieces of context to answer the question at the end. If you don't know the "
    "answer, just say that you don't know, don't try to make up an answer.\n\n{context}\n\nQuestion: {question}\n"
    "Helpful Answer:"
)


def gold_items(limit: int | None = None) -> list[dict]:
    path = ROOT / "eval" / "gold.jsonl"
    if not path.exists():
        return []
    items = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return items[:limit] if limit else items


def gold_questions() -> list[str]:
    return [i["question"] for i in gold_items()]


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def fact_recall(text: str, facts: list[list[str]]) -> float:
    """Share of required facts with any accepted spelling in ``text`` (the gold file's rule)."""
    hay = _norm(text)
    return sum(any(_norm(s) in hay for s in fact) for fact in facts) / len(facts) if facts else 1.0


IDK = ("don't know", "do not know", "not mentioned", "no information", "not provided", "cannot answer",
       "can't answer", "do not cover", "does not mention", "not specified")


def score(rows: list[dict]) -> dict:
    answerable = [r for r in rows if r["answerable"]]
    unanswerable = [r for r in rows if not r["answerable"]]
    return {
        "answer_fact_recall": round(statistics.fmean(r["answer_recall"] for r in answerable), 3) if answerable else None,
        "context_fact_recall": round(statistics.fmean(r["context_recall"] for r in answerable), 3) if answerable else None,
        "abstain_on_unanswerable": round(statistics.fmean(r["abstained"] for r in unanswerable), 3) if unanswerable else None,
        "false_abstain_on_answerable": round(statistics.fmean(r["abstained"] for r in answerable), 3) if answerable else None,
        "seconds_per_question": round(statistics.fmean(r["s"] for r in rows), 2) if rows else None,
        "items": len(rows),
    }


def bench_langchain(cfg: dict, work: Path, backend: str, ingest: dict | None) -> dict:
    """The textbook recipe on the same corpus (ingest time) and on the seeds (eval)."""
    from langchain_chroma import Chroma
    from langchain_core.documents import Document as LCDocument
    from langchain_core.embeddings import Embeddings
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    out: dict = {"recipe": "RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200) + "
                           "langchain_chroma.Chroma.from_documents, SentenceTransformer MiniLM (torch), top-4 stuffed "
                           "into the 'use the following pieces of context' prompt"}
    if cfg["backends"] == ["fake"]:
        emb: Embeddings = make_embeddings("fake")
    else:
        encode = raw_encoder("torch")

        class STEmbeddings(Embeddings):  # what HuggingFaceEmbeddings does, without the extra package
            def embed_documents(self, texts):
                return encode(texts).tolist()

            def embed_query(self, text):
                return encode([text])[0].tolist()

        emb = STEmbeddings()
        emb.embed_query("warm up")
    splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)

    def naive_ingest(folder: Path, target: Path):
        docs = [LCDocument(page_content=p.read_text(encoding="utf-8"), metadata={"source": p.stem})
                for p in sorted(folder.glob("*")) if p.suffix in (".txt", ".md")]
        chunks = splitter.split_documents(docs)
        t0 = time.perf_counter()
        store = Chroma.from_documents(chunks, emb, persist_directory=str(target), collection_name="naive")
        return store, len(chunks), time.perf_counter() - t0

    corpus = work / "corpus"
    if ingest is None:  # run apart from the ingest section: time ours on the same corpus here
        from assistant import Assistant

        write_corpus(corpus, cfg.get("naive_chunks") or cfg["ingest_chunks"])
        assistant = Assistant(index_dir=work / "ours-for-naive", llm="extractive", embeddings=make_embeddings(backend))
        assistant.embeddings.warm_up()
        t0 = time.perf_counter()
        assistant.ingest([corpus])
        ingest = {"backends": {backend: {"ingest_s": round(time.perf_counter() - t0, 2)}}, "default_backend": backend}
    if ingest is not None:
        t0 = time.perf_counter()
        _, n, _ = naive_ingest(corpus, work / "naive-corpus")
        seconds = time.perf_counter() - t0
        ours = ingest["backends"][ingest["default_backend"]]["ingest_s"]
        out.update(ingest_s=round(seconds, 2), chunks=n, ours_ingest_s=ours,
                   ours_vs_naive_ingest_time_ratio=round(ours / seconds, 3))
        log(f"naive recipe ingest {seconds:.1f}s ({n} chunks) vs ours {ours}s")
    items = gold_items(cfg["gold_items"])
    if not items:
        out["eval"] = "eval/gold.jsonl not found"
        return out
    store, _, _ = naive_ingest(ROOT / "seeds", work / "naive-seeds")
    chat = None
    if cfg["llm"]:
        from assistant.models.chat import get_chat_model
        from assistant.settings import Settings

        chat = get_chat_model(Settings(llm="llamacpp"))
    rows = []
    for item in items:
        t0 = time.perf_counter()
        docs = store.similarity_search(item["question"], k=4)
        context = "\n\n".join(d.page_content for d in docs)
        text = chat.invoke(NAIVE_PROMPT.format(context=context, question=item["question"])).content if chat else context[:400]
        rows.append({"answerable": item["answerable"], "answer_recall": fact_recall(text, item.get("facts", [])),
                     "context_recall": fact_recall(context, item.get("facts", [])),
                     "abstained": any(p in text.lower() for p in IDK), "s": time.perf_counter() - t0})
    out["eval"] = {"naive_" + ("llamacpp" if chat else "context"): score(rows)}
    out["eval"].update(ours_eval(cfg, work, backend, items))
    log(f"eval: {json.dumps(out['eval'])}")
    return out


def ours_eval(cfg: dict, work: Path, backend: str, items: list[dict]) -> dict:
    from assistant import Assistant

    index_dir = seeds_index(work, backend)
    embeddings = make_embeddings(backend)
    index_embeddings = make_index_embeddings(backend)
    out = {}
    for generator in ["extractive"] + (["llamacpp"] if cfg["llm"] else []):
        assistant = Assistant(index_dir=index_dir, llm=generator, embeddings=embeddings,
                              index_embeddings=index_embeddings)
        rows = []
        for item in items:
            t0 = time.perf_counter()
            answer = assistant.ask(item["question"])
            context = " ".join(c["text"] for c in assistant.search(item["question"]))
            rows.append({"answerable": item["answerable"], "answer_recall": fact_recall(answer.text, item.get("facts", [])),
                         "context_recall": fact_recall(context, item.get("facts", [])),
                         "abstained": bool(answer.abstained), "s": time.perf_counter() - t0})
        out[f"ours_{generator}"] = score(rows)
    return out


# ----- 7: conversation writes ------------------------------------------------------------------
def bench_conversations(cfg: dict, work: Path, reports: Path) -> dict:
    """20 clients saving turns vs 1 (``bench/conversation_writes.py``, its own report beside latest.json)."""
    import conversation_writes

    mode = "tiny" if cfg.get("in_process") else "full"
    folder = work / "conversation-writes"
    folder.mkdir(parents=True, exist_ok=True)
    got = conversation_writes.run(dict(conversation_writes.MODES[mode], mode=mode), reports, folder)
    keys = ("median_ms", "p95_ms", "turns_per_s", "median_vs_one_client", "p95_vs_one_client",
            "turns_per_s_vs_one_client", "positions_ok")
    return {"payload_bytes": got["payload"]["bytes"], "report": "conversation_writes.md",
            "scenarios": {name: {k: row[k] for k in keys} for name, row in got["scenarios"].items()}}


# ----- 8: folders kept in sync ----------------------------------------------------------------
def bench_sync(cfg: dict, work: Path, reports: Path) -> dict:
    """Save-to-answer latency with a watcher, and its idle CPU (``bench/sync.py``, its own report)."""
    import sync

    mode = "tiny" if cfg.get("in_process") else "full"
    folder = work / "sync"
    folder.mkdir(parents=True, exist_ok=True)
    got = sync.run(dict(sync.MODES[mode], mode=mode), reports, folder)
    lat, idle = got["latency"], got["idle"]
    return {"report": "sync.md", "edits": lat["edits"], "search": lat["search"], "answer": lat["answer"],
            "answers_citing_new_text": lat["answers_citing_new_text"], "idle_files": idle["files"],
            "idle_watcher_cpu_share": idle["watcher_cpu_share"]}


# ----- profile ---------------------------------------------------------------------------------
def bench_profile(work: Path, backend: str, reports: Path) -> dict:
    """pyinstrument over an ingest of a slice of the corpus: where the time goes."""
    try:
        from pyinstrument import Profiler
    except ImportError:
        return {"skipped": "pyinstrument is not installed (pip install pyinstrument)"}
    from assistant import Assistant

    folder = work / "profile-corpus"
    write_corpus(folder, 120, seed=7)
    assistant = Assistant(index_dir=work / "profile-index", llm="extractive", embeddings=make_embeddings(backend))
    assistant.embeddings.warm_up()
    profiler = Profiler(interval=0.005)
    profiler.start()
    assistant.ingest([folder])
    profiler.stop()
    text = profiler.output_text(color=False, show_all=False)
    (reports / "profile_ingest.txt").write_text(text)
    session = profiler.last_session
    total = session.duration
    frames = {"encode": 0.0, "chroma": 0.0}
    root = session.root_frame()

    def walk(frame):
        name = f"{frame.function} {frame.file_path_short or ''}"
        if "encode" in frame.function and ("embeddings" in name or "sentence_transformers" in name):
            frames["encode"] += frame.time
            return
        if "Collection" in (frame.class_name or "") or "chromadb" in (frame.file_path or ""):
            frames["chroma"] += frame.time
            return
        for child in frame.children:
            walk(child)

    if root is not None:
        walk(root)
    return {"ingest_s": round(total, 2), "encoder_share": round(frames["encode"] / total, 3),
            "chroma_share": round(frames["chroma"] / total, 3),
            "other_share": round(1 - (frames["encode"] + frames["chroma"]) / total, 3),
            "file": "profile_ingest.txt"}


# ----- main ------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--quick", action="store_true", help="small sizes, < 5 minutes")
    group.add_argument("--tiny", action="store_true", help="fake encoder, seconds (for the unit test)")
    parser.add_argument("--out", type=Path, default=HERE / "reports", help="report folder")
    parser.add_argument("--only", default="", help="comma list of sections to run (ingest,retrieval,answer,...)")
    parser.add_argument("--keep", action="store_true", help="keep the temp work folder")
    parser.add_argument("--no-llm", action="store_true", help="skip the local LLM rows (extractive only)")
    parser.add_argument("--naive-chunks", type=int, default=None,
                        help="corpus size for the naive-recipe section when run apart from ingest")
    parser.add_argument("--note", action="append", default=[], help="a note shown at the top of a merged report")
    parser.add_argument("--merge", type=Path, nargs="+", default=None,
                        help="combine the sections of several --only runs (their latest.json) into --out")
    parser.add_argument("--store-cache", type=Path, default=None,
                        help="folder for the large synthetic retrieval stores, reused across runs "
                             "(building 100k chunks takes many minutes; queries are always re-timed)")
    ns = parser.parse_args(argv)
    if ns.merge:
        return merge_reports(ns.merge, ns.out, ns.note)
    mode = "tiny" if ns.tiny else "quick" if ns.quick else "full"
    cfg = dict(MODES[mode], store_cache=ns.store_cache)
    if ns.no_llm:
        cfg["llm"] = False
    cfg["naive_chunks"] = ns.naive_chunks
    only = {s for s in ns.only.split(",") if s}
    ns.out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="assistant-bench-"))
    default = "fake" if mode == "tiny" else default_backend()
    started = time.perf_counter()
    report: dict = {
        "meta": {
            "mode": mode, "date": datetime.now(UTC).isoformat(timespec="seconds"), "python": platform.python_version(),
            "cpus": os.cpu_count(), "load_avg_start": list(os.getloadavg()), "default_embedding_backend": default,
            "commit": _git_commit(), "work_dir": str(work),
        },
        "errors": {},
    }
    log(f"mode {mode}, work dir {work}")

    def section(name: str, fn, *args):
        if only and name not in only:
            return None
        t0 = time.perf_counter()
        try:
            value = fn(*args)
            report["meta"].setdefault("section_s", {})[name] = round(time.perf_counter() - t0, 1)
            # Partial results survive a run that is stopped later.
            (ns.out / "partial.json").write_text(json.dumps({**report, name: value}, indent=2, default=str))
            return value
        except Exception as exc:
            log(f"section {name} failed: {exc}")
            report["errors"][name] = f"{type(exc).__name__}: {exc}\n{traceback.format_exc()[-3000:]}"
            return None

    got = section("ingest", bench_ingest, cfg, work, default)
    ingest = None
    if got:
        ingest, chosen, raw_base = got
        report["ingest"] = ingest
        report["raw_encode_chunks_per_s"] = raw_base
        report["ingest_chunks_per_s"] = chosen["ingest_chunks_per_s"]
        report["ingest_vs_raw_encode_ratio"] = round(chosen["ingest_chunks_per_s"] / raw_base, 3)
        report["reingest_unchanged_vs_full_ratio"] = chosen["reingest_unchanged_vs_full_ratio"]
        if ingest:
            report["retrieval"] = section("retrieval", bench_retrieval, cfg, work, default, ingest)
    backend = default
    report["answer"] = section("answer", bench_answer, cfg, work, backend)
    report["cold_start"] = section("cold_start", bench_cold_start, cfg, work, cfg["backends"], default)
    report["langchain_naive"] = section("langchain", bench_langchain, cfg, work, backend, ingest)
    report["conversation_writes"] = section("conversations", bench_conversations, cfg, work, ns.out)
    report["sync"] = section("sync", bench_sync, cfg, work, ns.out)
    if mode != "tiny":
        report["profile"] = section("profile", bench_profile, work, backend, ns.out)
    report["meta"]["load_avg_end"] = list(os.getloadavg())
    report["meta"]["wall_s"] = round(time.perf_counter() - started, 1)
    report["targets"] = evaluate_targets(report)
    problems = validate_report(report, partial=bool(only))
    report["meta"]["schema_problems"] = problems
    (ns.out / "latest.json.tmp").write_text(json.dumps(report, indent=2, default=str))
    os.replace(ns.out / "latest.json.tmp", ns.out / "latest.json")
    try:
        from report import write_markdown

        write_markdown(report, ns.out)
    except Exception as exc:
        log(f"markdown/plots failed: {exc}")
        report["errors"]["report"] = f"{type(exc).__name__}: {exc}\n{traceback.format_exc()[-2000:]}"
        (ns.out / "latest.json").write_text(json.dumps(report, indent=2, default=str))
    if not ns.keep:
        shutil.rmtree(work, ignore_errors=True)
    log(f"done in {report['meta']['wall_s']}s -> {ns.out / 'latest.json'}; "
        f"{sum(t['pass'] is True for t in report['targets'])}/{len(report['targets'])} targets met")
    return 1 if problems else 0


SECTIONS = ["ingest", "retrieval", "answer", "cold_start", "langchain_naive", "conversation_writes", "sync", "profile"]
HEADLINE = ["raw_encode_chunks_per_s", "ingest_chunks_per_s", "ingest_vs_raw_encode_ratio",
            "reingest_unchanged_vs_full_ratio"]


def merge_reports(paths: list[Path], out: Path, notes: list[str] | None = None) -> int:
    """One report from the sections of runs made side by side (``--only``), e.g. to fit a deadline.

    Each section keeps the baseline it measured itself, so its ratios stay same-run ratios.
    """
    merged: dict = {"meta": None, "errors": {}}
    runs = []
    for path in paths:
        part = json.loads((path / "latest.json" if path.is_dir() else path).read_text())
        if isinstance(part.get("ingest"), list):  # a partial.json: section results under section names
            ingest, chosen, raw_base = part["ingest"]
            part.update(ingest=ingest, raw_encode_chunks_per_s=raw_base,
                        ingest_chunks_per_s=chosen["ingest_chunks_per_s"],
                        ingest_vs_raw_encode_ratio=round(chosen["ingest_chunks_per_s"] / raw_base, 3),
                        reingest_unchanged_vs_full_ratio=chosen["reingest_unchanged_vs_full_ratio"])
        if part.get("langchain") and not part.get("langchain_naive"):
            part["langchain_naive"] = part["langchain"]
        runs.append({"file": str(path), "mode": part["meta"]["mode"], "date": part["meta"]["date"],
                     "sections": [k for k in SECTIONS if part.get(k)], "load_avg_start": part["meta"]["load_avg_start"],
                     "load_avg_end": part["meta"].get("load_avg_end"), "wall_s": part["meta"].get("wall_s")})
        if merged["meta"] is None:
            merged["meta"] = dict(part["meta"])
        for key in SECTIONS + HEADLINE:
            if key == "retrieval" and part.get(key):  # sizes may come from different runs
                merged["retrieval"] = {**part[key], **(merged.get("retrieval") or {})}
            elif part.get(key) is not None and merged.get(key) is None:
                merged[key] = part[key]
        merged["errors"].update(part.get("errors") or {})
        merged["meta"].setdefault("section_s", {}).update(part["meta"].get("section_s", {}))
    merged["meta"]["merged_from"] = runs
    merged["meta"]["notes"] = notes or []
    merged["meta"]["load_avg_end"] = max((r["load_avg_end"] or [0]) for r in runs)
    merged["meta"]["wall_s"] = max(r["wall_s"] or 0 for r in runs)
    merged["targets"] = evaluate_targets(merged)
    merged["meta"]["schema_problems"] = validate_report(merged)
    out.mkdir(parents=True, exist_ok=True)
    (out / "latest.json").write_text(json.dumps(merged, indent=2, default=str))
    from report import write_markdown

    write_markdown(merged, out)
    log(f"merged {len(runs)} runs -> {out / 'latest.json'}; problems: {merged['meta']['schema_problems']}")
    return 1 if merged["meta"]["schema_problems"] else 0


def _git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              cwd=ROOT, timeout=10).stdout.strip()
    except Exception:
        return ""


if __name__ == "__main__":
    sys.exit(main())
