"""After decide: a broad answer's sentences in an order a reader can follow.

Evidence is chosen one sentence at a time by relevance, from wherever each
sentence is, so a sentence that points back at what its source said before it
("Since 2006, it has used export quotas to control supply", "This dynamic
underscores ...") can land first, or after a sentence about something else,
and then says nothing about who or what. Extractive summaries face the same
problem and answer it the same way: a sentence that points back brings the
sentence before it, and the sentences of one document keep their source order.
A quotation with no speaker ("“It took a lot of courage ...”") is treated the
same way: the sentence before it in its paragraph usually names who spoke.
"""

from __future__ import annotations

from assistant.answering.evidence import Span
from assistant.answering.question_shape import question_shape
from assistant.text.language import may_point_back, opens_with_reference, read_many
from assistant.text.sentences import is_bare_quotation

# How far back a leaning sentence may reach for what it leans on: the sentence before it,
# and the one before that when that one leans back too.
MAX_BROUGHT = 2


def leans_on_what_came_before(text: str) -> bool:
    """Whether a sentence cannot stand on its own: its subject points back ("Since 2006, it has
    used ...", ``opens_with_reference``), or it is a quotation with no speaker."""
    return is_bare_quotation(text) or opens_with_reference(text)


def arrange_for_reading(question: str, spans: list[Span], evidence: list[Span]) -> list[Span]:
    """``evidence`` for a broad question, each leaning sentence after what it leans on, in reading order.

    The lead (the best-ranked sentence) opens the answer, as it would: it is
    the answer, even when it points back. The rest of its document follows in
    source order, then each other document's sentences, documents in the order
    of their best-ranked sentence. A later sentence that leans on what came
    before it brings the sentence before it in its paragraph (among ``spans``)
    when that was not chosen. One that opens its paragraph is left out: what it
    points at is a whole passage before it ("This dynamic underscores ..."
    opening a section), which one sentence does not mend. Unchanged for a
    question asking one thing, whose answer is one or two sentences led by the
    answer itself.
    """
    if not evidence or not question_shape(question).broad:
        return evidence
    read_many([s.text for s in evidence if may_point_back(s.text)])  # parsed in one batch, then cached
    chosen = _mended(spans, evidence)
    documents = list(dict.fromkeys(s.doc_id for s in chosen))
    rest = sorted(chosen[1:], key=lambda s: (documents.index(s.doc_id), s.start))
    return [chosen[0], *rest]


def _mended(spans: list[Span], evidence: list[Span]) -> list[Span]:
    """``evidence`` after the lead, each leaning sentence with what it leans on brought in, or
    left out when that is before its paragraph."""
    chosen = list(evidence)
    for span in evidence[1:]:
        if not leans_on_what_came_before(span.text):
            continue
        if span.previous is None:
            chosen.remove(span)
            continue
        current, previous = span, span.previous
        for _ in range(MAX_BROUGHT):
            before = spans[previous]
            if before in chosen:
                break
            chosen.insert(chosen.index(current), before)
            if before.previous is None or not leans_on_what_came_before(before.text):
                break
            current, previous = before, before.previous
    return chosen
