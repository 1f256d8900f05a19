"""Finish stage: number the cited evidence and write the answer text with its markers.

Draft claims cite evidence by index; the reader sees citations numbered
1, 2, 3 in order of first use, so numbering happens once, here, after every
claim (including conflict notes) is known. The extractive writer renders too,
to stream the same words the final answer will hold.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from assistant.answer import Citation, Claim, Conflict
from assistant.answering.claims import DraftClaim
from assistant.answering.conflicts import NotedConflict
from assistant.answering.evidence import Span


@dataclass
class RenderedClaims:
    """Answer text with ``[n]`` markers, its citations (numbered 1..n) and its claims."""

    text: str
    citations: list[Citation]
    claims: list[Claim]


def render_claims(drafts: list[DraftClaim], evidence: list[Span]) -> RenderedClaims:
    """Number citations in order of first use and write the answer text.

    Args:
        drafts: the answer's sentences, citing indexes into ``evidence``.
        evidence: the spans the drafts cite.
    """
    renderer = ClaimRenderer(evidence)
    for draft in drafts:
        renderer.add(draft)
    return renderer.rendered()


class ClaimRenderer:
    """Renders claims one at a time, so a verified sentence can be shown the moment it is known.

    Numbering is in order of first use, so a sentence's markers never change
    once it is rendered: the pieces ``add`` returns, joined, are the final text.
    """

    def __init__(self, evidence: list[Span]) -> None:
        self.evidence = evidence
        self.numbering: dict[int, int] = {}  # evidence index -> citation number
        self.citations: list[Citation] = []
        self.claims: list[Claim] = []
        self.pieces: list[str] = []

    def add(self, draft: DraftClaim) -> str:
        """Render ``draft``; returns the piece to append to the text so far (with its leading space)."""
        ids = []
        for span_id in draft.span_ids:
            if span_id not in self.numbering:
                self.numbering[span_id] = len(self.numbering) + 1
                self.citations.append(_citation(self.numbering[span_id], self.evidence[span_id]))
            ids.append(self.numbering[span_id])
        self.claims.append(Claim(text=draft.text, citation_ids=ids, supported=draft.supported,
                                 score=round(draft.score, 4), kind=draft.kind))
        piece = (" " if self.pieces else "") + _with_markers(draft.text, ids)
        self.pieces.append(piece)
        return piece

    def rendered(self) -> RenderedClaims:
        return RenderedClaims("".join(self.pieces), list(self.citations), list(self.claims))


def _citation(number: int, span: Span) -> Citation:
    return Citation(
        id=number, source=span.doc_id, title=span.title, section=span.section, snippet=span.text,
        start=span.start, end=span.end, score=round(span.score, 4), date=span.date, page=span.page,
    )


# A stop inside closing quotes or brackets: 'her dress "is for the stage."'.
_STOP_BEFORE_CLOSERS = re.compile(r"([.!?])([\"'”’)\]]+)$")


def _with_markers(sentence: str, citation_ids: list[int]) -> str:
    body = sentence.rstrip()
    quoted = _STOP_BEFORE_CLOSERS.search(body)
    if quoted:
        # 'the stage." [2].' would leave the marker and a second stop behind the sentence's
        # end for any splitter (and a reader): 'the stage" [2].' keeps them with it.
        body, stop = body[: quoted.start()] + quoted.group(2), quoted.group(1)
    elif body[-1:] in ".!?":
        body, stop = body[:-1], body[-1]
    else:
        stop = "."
    # Markers go before the full stop so a sentence splitter keeps them together.
    return body + "".join(f" [{n}]" for n in citation_ids) + stop


def render_conflicts(noted: list[NotedConflict], evidence: list[Span], citations: list[Citation]) -> list[Conflict]:
    """The public ``Conflict`` of each noted disagreement, each side with its citation number."""
    return [
        Conflict(n.topic, [{"text": evidence[i].text, "citation_id": _citation_id(citations, evidence[i])}
                           for i in (n.first, n.second)])
        for n in noted
    ]


def _citation_id(citations: list[Citation], span: Span) -> int:
    return next(c.id for c in citations if c.source == span.doc_id and c.start == span.start)
