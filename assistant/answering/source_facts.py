"""What the index manifest says about the sources of one question: dates and pages.

Every stage that needs the manifest (gather: each span's date and PDF page;
decide: the corpus's newest date; finish: the newest cited date and the
follow-up questions) reads the one snapshot the chain takes at the start of
a question. So the manifest is read once per question, every stage sees the
same documents even while another process ingests, and citing a PDF page
needs the manifest only, not the PDF reader.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from assistant.answer import Citation
from assistant.answering.evidence import Span
from assistant.store.manifest import DocumentEntry

# Document id -> its manifest entry, as it was when the question arrived.
DocumentSnapshot = Mapping[str, DocumentEntry]


def attach_source_facts(spans: list[Span], documents: DocumentSnapshot) -> None:
    """Give each span its source's newest date, publication date and, for a PDF, the page it is on."""
    for span in spans:
        entry = documents.get(span.doc_id)
        span.date = entry.metadata.get("newest_date") if entry else None
        span.published = entry.metadata.get("published") if entry else None
        span.page = entry.page_at(span.start) if entry else None


def newest_corpus_date(documents: DocumentSnapshot) -> tuple[str, str] | None:
    """(ISO date, as written) of the newest date in any indexed document, or None.

    The decide stage abstains on questions about events after it.
    """
    dates = [d for entry in documents.values() for d in entry.metadata.get("dates", [])]
    newest = max(dates, key=lambda d: d["iso"], default=None)
    return (newest["iso"], newest["text"]) if newest else None


def newest_cited_date(documents: DocumentSnapshot, citations: list[Citation]) -> str | None:
    """The newest date written in a cited source, as the source wrote it, or None.

    An answer to "what is the latest ...?" says how recent its sources are.
    """
    return newest_source_date(documents, [c.source for c in citations])


def newest_source_date(documents: DocumentSnapshot, doc_ids: Iterable[str]) -> str | None:
    """The newest date written in any of the documents ``doc_ids``, as the source wrote it, or None."""
    dates = [d for doc_id in set(doc_ids) if doc_id in documents for d in documents[doc_id].metadata.get("dates", [])]
    return max(dates, key=lambda d: d["iso"])["text"] if dates else None
