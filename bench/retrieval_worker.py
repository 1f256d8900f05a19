"""One retrieval benchmark size, in its own process so RSS and disk size are per size.

    python bench/retrieval_worker.py build N INDEX_DIR --backend onnx
    python bench/retrieval_worker.py query INDEX_DIR --backend onnx --rounds 2

``build`` writes a synthetic corpus (seed sentences, see corpus.py) and ingests
it through our own ``Index`` with *synthetic vectors*: each chunk's vector is
the normalised mean of the real MiniLM vectors of the seed sentences it
contains plus Gaussian noise (norm ~0.6 of the signal), so vectors cluster the
way real ones do without paying ~50 ms of encoder time per chunk. ``query``
then opens the store the way a fresh server would and times our retriever in
each mode against a raw ``collection.query`` on the same collection, with
real MiniLM query vectors.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ROOT, dir_bytes, make_embeddings, rss_mb, summary_ms  # noqa: E402

NOISE = 0.6


class SentenceMeanEmbeddings:
    """Synthetic chunk vectors (see module docstring); real vectors for queries."""

    def __init__(self, real, pool: list[str], seed: int = 0):
        from assistant.text.sentences import sentence_spans

        self.real = real
        self.model_name = real.model_name  # the query side must see a matching manifest
        self._spans = sentence_spans
        self._vec = {s: np.asarray(v, dtype=np.float32) for s, v in zip(pool, real.encode(pool), strict=True)}
        self._rng = np.random.default_rng(seed)

    def encode(self, texts: list[str]) -> list[list[float]]:
        out = np.zeros((len(texts), 384), dtype=np.float32)
        for i, text in enumerate(texts):
            parts = [self._vec.get(" ".join(text[s:e].split())) for s, e in self._spans(text)]
            parts = [p for p in parts if p is not None]
            base = np.mean(parts, axis=0) if parts else np.zeros(384, dtype=np.float32)
            base /= max(np.linalg.norm(base), 1e-9)
            noise = self._rng.standard_normal(384).astype(np.float32)
            out[i] = base + NOISE * noise / np.linalg.norm(noise)
        out /= np.linalg.norm(out, axis=1, keepdims=True)
        return out.tolist()

    def embed_documents(self, texts):
        return self.encode(texts)

    def embed_query(self, text):
        return self.real.embed_query(text)

    def warm_up(self):
        pass


def questions() -> list[str]:
    gold = ROOT / "eval" / "gold.jsonl"
    out = []
    if gold.exists():
        for line in gold.read_text().splitlines():
            if line.strip():
                out.append(json.loads(line)["question"])
    return out or [
        "How is China enforcing its rare earth export restrictions?",
        "What steps is the US taking to reduce dependence on Chinese rare earths?",
        "Why are rare earths so critical to technology and defense industries?",
    ]


def build(n: int, index_dir: Path, backend: str) -> dict:
    from corpus import seed_sentences, write_corpus

    from assistant.ingest.pipeline import IngestPipeline
    from assistant.settings import Settings
    from assistant.store.index import Index

    settings = Settings(index_dir=index_dir, llm="extractive")
    real = make_embeddings(backend)
    embeddings = SentenceMeanEmbeddings(real, seed_sentences())
    with tempfile.TemporaryDirectory() as tmp:
        # ~100 chunks a document: 6 sections x 12 paragraphs.
        info = write_corpus(Path(tmp), n, seed=n, sections=6, paragraphs=12)
        index = Index(settings, embeddings)
        t0 = time.perf_counter()
        report = IngestPipeline(index).run([tmp])
        seconds = time.perf_counter() - t0
    return {
        "corpus": info,
        "chunks": report.chunks_added,
        "build_s": round(seconds, 2),
        "build_chunks_per_s_without_encoder": round(report.chunks_added / seconds, 1),
        "vectors": "synthetic: normalised mean of real MiniLM vectors of the chunk's seed "
        f"sentences + Gaussian noise (norm {NOISE})",
    }


def build_bulk(n: int, index_dir: Path, backend: str) -> dict:
    """Like ``build`` but writes Chroma, the manifest and BM25 directly in big batches.

    Ingest at this size is dominated by per-document work (~10 ms a chunk here
    without any encoder), which is not what the retrieval benchmark measures;
    the store it produces has the same layout as ``IngestPipeline.run``'s.
    """
    from corpus import seed_sentences, write_corpus

    from assistant.ingest.chunking import chunk_document
    from assistant.ingest.documents import load_documents
    from assistant.settings import Settings
    from assistant.store.index import Index
    from assistant.store.manifest import DocumentEntry

    settings = Settings(index_dir=index_dir, llm="extractive")
    embeddings = SentenceMeanEmbeddings(make_embeddings(backend), seed_sentences())
    index = Index(settings, embeddings)
    manifest = index.empty_manifest()
    t0 = time.perf_counter()
    total = 0
    with tempfile.TemporaryDirectory() as tmp:
        info = write_corpus(Path(tmp), n, seed=n, sections=6, paragraphs=12)
        docs, _ = load_documents([tmp], 10**9)
        collection = index.collection
        batch: list = []

        def flush() -> None:
            collection.add(
                ids=[c.id for c in batch],
                embeddings=embeddings.encode([c.embedding_text() for c in batch]),
                documents=[c.text for c in batch],
                metadatas=[c.metadata() for c in batch],
            )
            batch.clear()

        for doc in docs:
            chunks = chunk_document(doc, settings.chunk_tokens, settings.chunk_overlap)
            manifest.documents[doc.id] = DocumentEntry(
                hash=doc.content_hash, path="", title=doc.title, chunk_ids=[c.id for c in chunks],
                sections=doc.sections, metadata=doc.metadata,
            )
            total += len(chunks)
            for chunk in chunks:
                batch.append(chunk)
                if len(batch) >= 4000:
                    flush()
        if batch:
            flush()
    manifest.generation = 1
    index._manifest_store.save(manifest)
    index._snapshot = None
    index.count_chunks()  # builds and persists the BM25 index, as an ingest does
    seconds = time.perf_counter() - t0
    return {
        "corpus": info,
        "chunks": total,
        "build_s": round(seconds, 2),
        "build": "bulk collection.add (4,000 a batch) + manifest + BM25, not IngestPipeline",
        "vectors": "synthetic: normalised mean of real MiniLM vectors of the chunk's seed "
        f"sentences + Gaussian noise (norm {NOISE})",
    }


def query(index_dir: Path, backend: str, rounds: int, k: int = 8, max_questions: int | None = None) -> dict:
    from assistant.answering.retrieval import HybridRetriever
    from assistant.settings import Settings
    from assistant.store.index import Index

    base_rss = rss_mb()
    settings = Settings(index_dir=index_dir, llm="extractive")
    embeddings = make_embeddings(backend)
    embeddings.warm_up()
    index = Index(settings, embeddings)
    t0 = time.perf_counter()
    n_chunks = index.count_chunks()  # opens the manifest and loads the persisted BM25 index
    snapshot_s = time.perf_counter() - t0
    qs = questions()[:max_questions]
    t0 = time.perf_counter()
    vectors = {q: embeddings.embed_query(q) for q in qs}  # also fills the query cache
    encode_ms = (time.perf_counter() - t0) * 1000 / len(qs)
    retrievers = {m: HybridRetriever(index=index, embeddings=embeddings, k=k, mode=m) for m in ("hybrid", "dense", "lexical")}
    fetch = retrievers["dense"].fetch_k
    collection = index.collection

    def raw(q: str):
        return collection.query(
            query_embeddings=[vectors[q]], n_results=min(fetch, n_chunks), include=["documents", "metadatas", "distances"]
        )

    runners = {m: (lambda q, r=r: r.search(q)) for m, r in retrievers.items()}
    runners["raw_query"] = raw
    for fn in runners.values():  # warm-up: first calls open files and fill caches
        fn(qs[0])
    times: dict[str, list[float]] = {m: [] for m in runners}
    for _ in range(rounds):
        for q in qs:
            for name, fn in runners.items():  # interleaved, so load spikes hit every mode alike
                t = time.perf_counter()
                fn(q)
                times[name].append(time.perf_counter() - t)
    result = {name: summary_ms(v) for name, v in times.items()}
    result.update(
        chunks=n_chunks,
        queries=len(qs) * rounds,
        snapshot_load_s=round(snapshot_s, 3),
        query_encode_ms=round(encode_ms, 2),
        index_bytes=dir_bytes(index_dir),
        process_rss_mb=rss_mb().get("rss_mb"),
        process_peak_rss_mb=rss_mb().get("peak_rss_mb"),
        baseline_rss_mb=base_rss.get("rss_mb"),
        dense_vs_raw_p50=round(result["dense"]["p50_ms"] / max(result["raw_query"]["p50_ms"], 1e-6), 3),
        dense_vs_raw_p95=round(result["dense"]["p95_ms"] / max(result["raw_query"]["p95_ms"], 1e-6), 3),
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("what", choices=["build", "query"])
    parser.add_argument("args", nargs="+")
    parser.add_argument("--backend", default="onnx")
    parser.add_argument("--rounds", type=int, default=2)
    ns = parser.parse_args()
    if ns.what == "build":
        n = int(ns.args[0])
        out = (build if n <= 10_000 else build_bulk)(n, Path(ns.args[1]), ns.backend)
    else:
        out = query(Path(ns.args[0]), ns.backend, ns.rounds)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
