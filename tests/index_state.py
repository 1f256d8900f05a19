"""Compare two indexes as a user's questions would see them: chunks, vectors and manifest entries."""

from __future__ import annotations

from typing import Any

import numpy as np


def index_state(assistant: Any) -> tuple[dict[str, Any], dict[str, dict]]:
    """Every stored chunk (id -> text, metadata, vector) and every manifest entry (as a dict)."""
    got = assistant.index.collection.get(include=["documents", "metadatas", "embeddings"])
    chunks = {cid: (text, meta, np.asarray(vec)) for cid, text, meta, vec in
              zip(got["ids"], got["documents"], got["metadatas"], got["embeddings"], strict=True)}
    manifest = assistant.index.load_stored_manifest()
    entries = {doc_id: vars(entry) for doc_id, entry in manifest.documents.items()} if manifest else {}
    return chunks, entries


def assert_same_index(one: Any, other: Any, tolerance: float = 1e-5) -> None:
    """Same chunk ids, texts and metadata, vectors within ``tolerance``, same manifest entries,
    and Chroma holds exactly the chunks the manifest lists (no orphans, none missing)."""
    chunks, entries = index_state(one)
    other_chunks, other_entries = index_state(other)
    assert sorted(chunks) == sorted(other_chunks)
    for cid, (text, meta, vec) in chunks.items():
        assert other_chunks[cid][:2] == (text, meta), cid
        assert np.abs(other_chunks[cid][2] - vec).max() < tolerance, cid
    assert entries == other_entries
    listed = [cid for entry in other_entries.values() for cid in entry["chunk_ids"]]
    assert sorted(listed) == sorted(other_chunks)
