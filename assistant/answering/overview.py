"""Questions about the documents themselves: "What are these documents about?", "Summarize".

Such a question names no topic, so retrieval finds nothing it matches and the
decide stage abstains ("The documents do not cover this"), which is the wrong
answer to a new user's first question. It is recognised by its closeness
(MiniLM, the span ranker's encoder) to a few requests for an overview, when it
names nothing (no entity, no proper noun: "What is the headline of the
Particle.news story?" asks about one story); it is answered by each
document's opening sentence, newest documents first, each quoted and cited
like any other evidence.

Threshold: 0.35. Among the five suites' 108 questions that name nothing, the
closest reads 0.291; 16 of 20 overview requests written before it was chosen
read higher, and 7 of 10 written after (README, "Questions about the documents themselves").
"""

from __future__ import annotations

import weakref
from collections.abc import Callable

import numpy as np
from langchain_core.documents import Document as LCDocument

from assistant.answering.evidence import Span, spans_from_chunks
from assistant.text.dates import is_dateline
from assistant.text.language import parse

OVERVIEW_REQUESTS = (
    "What are these documents about?",
    "Summarize the documents.",
    "Give me an overview of what is here.",
    "What topics do the documents cover?",
    "What is the news?",
)
OVERVIEW_SIMILARITY = 0.35
OVERVIEW_DOCUMENTS = 5
# A document's opening is found among its first few chunks (a title or caption chunk may come first).
OPENING_CHUNKS = 3
_NO_OPENING_SECTIONS = ("Title", "Photo captions")

_request_vectors: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def asks_for_overview(question: str, encoder, best_passage_match: Callable[[], float] | None = None) -> bool:
    """Whether ``question`` asks what the documents are about rather than about a topic in them.

    ``best_passage_match`` gives the question's closest retrieved sentence under the same
    encoder; it is asked only when the question reads like an overview request. A question
    about a topic the documents cover reads closer to one of their sentences than to any
    request: "What kinds of books are being banned?" reads 0.43 to "What topics do the
    documents cover?" but 0.74 to a sentence on book bans, over the news probe's articles.
    """
    doc = parse(question)
    if doc.ents or any(token.pos_ == "PROPN" for token in doc):
        return False
    requests = _request_vectors.get(encoder)
    if requests is None:
        requests = np.asarray(encoder.embed_documents(list(OVERVIEW_REQUESTS)))
        _request_vectors[encoder] = requests
    closeness = float((requests @ np.asarray(encoder.embed_query(question))).max())
    if closeness < OVERVIEW_SIMILARITY:
        return False
    return best_passage_match is None or closeness > best_passage_match()


def document_openings(documents, index, limit: int = OVERVIEW_DOCUMENTS) -> list[Span]:
    """The opening sentence of each of the ``limit`` newest documents (by the newest date each states)."""
    ordered = sorted(documents.items(), key=lambda item: item[1].title)
    ordered.sort(key=lambda item: item[1].metadata.get("newest_date") or "", reverse=True)  # undated last
    openings: list[Span] = []
    for _, entry in ordered:
        opening = _opening(entry.chunk_ids[:OPENING_CHUNKS], index)  # chunk ids are in text order
        if opening is not None:
            openings.append(opening)
        if len(openings) >= limit:
            break
    return openings


def _opening(chunk_ids: list[str], index) -> Span | None:
    """The first sentence that states something in these chunks of one document (None if none does)."""
    hits = sorted(index.get_chunks(chunk_ids).values(), key=lambda hit: int(hit.metadata.get("start", 0)))
    chunks = [LCDocument(page_content=hit.text, metadata={**hit.metadata, "id": hit.id}) for hit in hits
              if hit.metadata.get("section") not in _NO_OPENING_SECTIONS]
    # A dateline on top ("Published June 12, 2022") dates the article; it does not open it.
    return next((span for span in spans_from_chunks(chunks) if not is_dateline(span.text)), None)
