"""How many sentences a one-fact answer shows: the lead alone when it reads as the answer by a margin.

A one-fact question gets its two best evidence sentences. When the lead reads
as the answer to the question clearly better than the sentence after it, under
the index encoder (e5, trained on questions against the passages answering
them), the second sentence only pads. On the dev parts of six corpora (the five
suites and the news probe), the second sentence held a fact the lead lacked in
1 of the 79 answers where the lead read closer by the margin. With the guard
below, the dev eval measured median words per answer 46-58.5 -> 44-46.5
across the five suites, one fact lost (rhine). Below the margin the second sentence
stays: that is where the second sentence held the other 28 of the 29 facts
only it held. So does a second sentence that continues the lead, following it
in its paragraph and pointing back at it ("2014 S/S is the debut album of South
Korean group WINNER. It was released ... by the group's record label, YG
Entertainment"): the lead repeats the question's words, which makes it read
close, and the answer is in what it goes on to say.
"""

from __future__ import annotations

from assistant.answering.abstention import match_scores, query_vector
from assistant.answering.arrangement import leans_on_what_came_before
from assistant.answering.evidence import Span

# The e5 cosine by which the lead must read closer to the question than the sentence after it.
# Chosen on the dev parts of the five suites and the news probe (273 two-sentence answers):
# at 0.05 / 0.08 / 0.10 the second sentence alone held 3 / 1 / 1 facts among the answers cut
# to their lead (121 / 79 / 47); news sentences read alike, so it cut 10 / 3 / 3 of its 69.
LEAD_MARGIN = 0.08


def lead_stands_alone(question: str, spans: list[Span], evidence: list[Span], encoder) -> bool:
    """Whether the lead reads as the answer to ``question`` by ``LEAD_MARGIN`` over the next
    sentence, which does not continue it (``spans``: the sentences ``Span.previous`` indexes)."""
    if len(evidence) < 2 or _continues(evidence[1], evidence[0], spans):
        return False
    # Both vectors are cached by the encoder since the match check.
    lead, runner_up = match_scores(query_vector(question, encoder), [evidence[0].text, evidence[1].text], encoder)
    return float(lead - runner_up) >= LEAD_MARGIN


def _continues(span: Span, lead: Span, spans: list[Span]) -> bool:
    """Whether ``span`` follows ``lead`` in its paragraph and points back at it."""
    follows = span.previous is not None and span.previous < len(spans) and spans[span.previous] is lead
    return follows and leans_on_what_came_before(span.text)
