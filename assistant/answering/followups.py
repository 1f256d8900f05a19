"""Follow-up questions: the corpus's own 'Go deeper' questions the answer did not cover."""

from __future__ import annotations

from assistant.text.words import content_words


def _similar(a: str, b: str) -> float:
    wa, wb = set(content_words(a)), set(content_words(b))
    return len(wa & wb) / max(1, len(wa | wb))


def suggest_follow_ups(question: str, index, chunks, citations, limit: int = 3) -> list[str]:
    """Suggested questions of the retrieved documents, unlike the question just asked."""
    docs = index.manifest().documents
    order = [c.source for c in citations] + [c.metadata["doc_id"] for c in chunks]
    seen_docs: list[str] = list(dict.fromkeys(order))
    out: list[str] = []
    for doc_id in seen_docs:
        entry = docs.get(doc_id)
        if entry is None:
            continue
        for q in entry.metadata.get("suggested_questions", []):
            if _similar(q, question) < 0.5 and q not in out:
                out.append(q)
            if len(out) >= limit:
                return out
    return out
