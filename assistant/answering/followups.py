"""Finish stage: follow-up questions, the corpus's own 'Go deeper' questions the answer did not cover.

Ingest stores each document's suggested questions in the manifest; the chain
passes its manifest snapshot, so suggesting them reads no file.
"""

from __future__ import annotations

from collections.abc import Mapping

from langchain_core.documents import Document as LCDocument

from assistant.answer import Citation
from assistant.store.manifest import DocumentEntry
from assistant.text.words import content_words


def _similar(a: str, b: str) -> float:
    wa, wb = set(content_words(a)), set(content_words(b))
    return len(wa & wb) / max(1, len(wa | wb))


def suggest_follow_ups(
    question: str,
    documents: Mapping[str, DocumentEntry],
    chunks: list[LCDocument],
    citations: list[Citation],
    limit: int = 3,
) -> list[str]:
    """Suggested questions of the cited, then the retrieved, documents, unlike the question just asked.

    Args:
        question: what the user asked.
        documents: the question's manifest snapshot (document id -> entry).
        chunks: the retrieved chunks, best first.
        citations: the answer's citations, in number order.
        limit: the most questions to suggest.
    """
    order = [c.source for c in citations] + [c.metadata["doc_id"] for c in chunks]
    seen_docs: list[str] = list(dict.fromkeys(order))
    out: list[str] = []
    for doc_id in seen_docs:
        entry = documents.get(doc_id)
        if entry is None:
            continue
        for q in entry.metadata.get("suggested_questions", []):
            if _similar(q, question) < 0.5 and q not in out:
                out.append(q)
            if len(out) >= limit:
                return out
    return out
