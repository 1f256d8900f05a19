"""Inspect an index from outside (run as a subprocess): manifest vs Chroma, and search for markers.

Usage: ``python -m tests.reliability.inspect_index INDEX_DIR [N_MARKERS]`` prints one JSON object.
Run in its own process so the test process never holds the embedded Chroma
store (or torch) open while an ingest subprocess writes to it.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path


def inspect(index_dir: Path, n_markers: int = 0) -> dict:
    from assistant import Assistant
    from tests.reliability.corpus import marker

    assistant = Assistant(index_dir=index_dir, llm="extractive")
    manifest = assistant.index.manifest()
    listed = [cid for e in manifest.documents.values() for cid in e.chunk_ids]
    got = assistant.index.collection.get(include=["metadatas", "documents"])
    stored = list(got["ids"])
    owner = {cid: doc_id for doc_id, e in manifest.documents.items() for cid in e.chunk_ids}
    spans = Counter((m["doc_id"], m["start"], m["end"]) for m in got["metadatas"])
    wrong_owner, wrong_text = [], []
    for cid, meta, text in zip(got["ids"], got["metadatas"], got["documents"], strict=True):
        if cid in owner and owner[cid] != meta["doc_id"]:
            wrong_owner.append(cid)
        if cid in owner:
            original = assistant.document_text(meta["doc_id"])
            if original[meta["start"] : meta["end"]] != text:
                wrong_text.append(cid)
    out = {
        "documents": len(manifest.documents),
        "manifest_chunks": len(listed),
        "chroma_chunks": len(stored),
        "duplicate_ids_in_manifest": len(listed) - len(set(listed)),
        "duplicate_spans_in_chroma": sum(c - 1 for c in spans.values() if c > 1),
        "orphans_in_chroma": len(set(stored) - set(listed)),
        "missing_from_chroma": len(set(listed) - set(stored)),
        "wrong_owner": len(wrong_owner),
        "chunk_text_differs_from_document": len(wrong_text),
        "empty_hash_entries": sum(1 for e in manifest.documents.values() if not e.hash),
    }
    if n_markers:
        unanswerable = []
        for i in range(n_markers):
            # The bare identifier: BM25 ranks its one document first, so it must be among the hits.
            hits = assistant.search(marker(i), k=8)
            if not any(h["doc_id"] == f"doc{i:04d}" and marker(i) in h["text"] for h in hits):
                unanswerable.append(i)
        out["searched"] = n_markers
        out["unanswerable"] = unanswerable
    return out


if __name__ == "__main__":
    print(json.dumps(inspect(Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 0)))
