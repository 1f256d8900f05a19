"""Benchmark corpora generated from the seed documents' own sentences.

The seeds are ~10 KB (24 chunks), far too small to time an ingest, so the
benchmark writes new news-style Markdown documents whose paragraphs are random
draws (seeded, so reproducible) of the seeds' sentences. Every paragraph is a
new combination, so chunk texts do not repeat and no cache can flatter the
ingest against the raw encoder.
"""

from __future__ import annotations

import random
from pathlib import Path

from assistant.ingest.chunking import chunk_document
from assistant.ingest.documents import load_documents, parse_document
from assistant.text.sentences import sentence_spans

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
HEADINGS = [
    "What's happened",
    "What's behind the headline",
    "What the papers say",
    "How we got here",
    "Background",
    "What's next",
]


def seed_sentences() -> list[str]:
    """Every sentence of the seeds' paragraphs and bullets with at least six words."""
    docs, _ = load_documents([SEEDS], 10**8)
    out: list[str] = []
    for doc in docs:
        for block in doc.blocks:
            if block.kind not in ("paragraph", "bullet"):
                continue
            for s, e in sentence_spans(doc.text, block.start, block.end):
                sentence = " ".join(doc.text[s:e].split())
                if len(sentence.split()) >= 6 and not sentence.endswith("?") and sentence not in out:
                    out.append(sentence)
    return out


def make_document(rng: random.Random, pool: list[str], n: int, sections: int = 4, paragraphs: int = 2) -> str:
    """One Markdown news explainer of ``sections`` sections of random seed sentences."""
    lines = [f"# Rare earths briefing {n}: {rng.choice(pool)[:60].rstrip(' ,.')}", ""]
    for heading in rng.sample(HEADINGS, k=min(sections, len(HEADINGS))):
        lines += [f"## {heading}", ""]
        for _ in range(paragraphs):
            lines += [" ".join(rng.sample(pool, k=rng.randint(4, 8))), ""]
    return "\n".join(lines)


def count_chunks(text: str, doc_id: str, chunk_tokens: int, chunk_overlap: int) -> int:
    return len(chunk_document(parse_document(text, doc_id), chunk_tokens, chunk_overlap))


def write_corpus(
    folder: Path,
    min_chunks: int,
    seed: int = 0,
    chunk_tokens: int = 160,
    chunk_overlap: int = 32,
    sections: int = 4,
    paragraphs: int = 2,
) -> dict:
    """Write documents into ``folder`` until they hold at least ``min_chunks`` chunks.

    Returns:
        ``{"documents", "chunks", "bytes", "how"}`` describing what was written.
    """
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    pool = seed_sentences()
    chunks = docs = size = 0
    while chunks < min_chunks:
        text = make_document(rng, pool, docs, sections=sections, paragraphs=paragraphs)
        doc_id = f"bench_{seed}_{docs:05d}"
        (folder / f"{doc_id}.md").write_text(text, encoding="utf-8")
        # Chunking every document twice costs ~1 ms a chunk; past the first few,
        # extrapolate (the ingest report gives the true count).
        if docs < 5 or min_chunks <= 5000:
            per_doc = count_chunks(text, doc_id, chunk_tokens, chunk_overlap)
            chunks += per_doc
            estimate = chunks / (docs + 1)
        else:
            chunks += estimate
        size += len(text.encode())
        docs += 1
    return {
        "documents": docs,
        "chunks_estimated": int(chunks),
        "bytes": size,
        "how": f"Markdown explainers whose paragraphs are 4-8 random sentences (seed {seed}) "
        f"drawn from the {len(pool)} sentences of seeds/",
    }
