"""The answering chain: understand -> gather evidence -> decide -> write -> finish -> Answer.

Each stage is a method returning a small typed result, so ``stream`` reads
as the stages in order. Two generators share everything but the writing
step: ``extractive`` quotes the best-supported source sentences; an LLM
writes from a few numbered spans and every sentence it writes is checked
against those spans (``claims.py``). What the LLM gets wrong is dropped,
and what it leaves out is completed from the evidence, so the LLM path can
only add to the extractive one.

The manifest is read once per question (``source_facts.py``): dates, PDF
pages and follow-up questions all come from that one snapshot.
"""

from __future__ import annotations

import re
import time
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from typing import Any

from assistant.answer import Answer
from assistant.answering.abstention import Abstention, check_coverage
from assistant.answering.claims import DraftClaim, extractive_claims
from assistant.answering.conflicts import CONFLICT_NOTE_PREFIX, note_conflicts
from assistant.answering.evidence import GatheredEvidence, Span, choose_spans, rank_spans
from assistant.answering.followups import suggest_follow_ups
from assistant.answering.questions import (
    UnderstoodQuestion,
    understand_question,
    validate_question,
    wants_latest,
)
from assistant.answering.rendering import RenderedClaims, render_claims, render_conflicts
from assistant.answering.source_facts import (
    DocumentSnapshot,
    attach_source_facts,
    newest_cited_date,
    newest_corpus_date,
)
from assistant.answering.writing import (
    Draft,
    draft_from_model_text,
    model_sources,
    stream_model_answer,
)
from assistant.settings import Settings

# validate_question and CONFLICT_NOTE_PREFIX are imported from here by the web
# service, MCP and the eval harness; they live with the stage that uses them.
__all__ = ["CONFLICT_NOTE_PREFIX", "AnswerChain", "validate_question"]


class StageClock:
    """Seconds since the question arrived, and per stage: what ``Answer.timings`` reports."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.timings: dict[str, float] = {}

    def since_start(self, name: str) -> None:
        self.timings[name] = time.perf_counter() - self.start

    def first_token(self) -> None:
        self.timings.setdefault("first_token_s", time.perf_counter() - self.start)

    @contextmanager
    def measure(self, name: str) -> Iterator[None]:
        began = time.perf_counter()
        yield
        self.timings[name] = time.perf_counter() - began

    def word_stream(self, text: str) -> Iterator[str]:
        """``text`` word by word, as tokens for a surface that shows the answer being written."""
        self.first_token()
        yield from re.findall(r"\S+\s*", text)

    def rounded(self) -> dict[str, float]:
        return {name: round(seconds, 4) for name, seconds in self.timings.items()}


class AnswerChain:
    """Runs one question end to end; stateless between questions."""

    def __init__(self, settings: Settings, retriever, embeddings, chat_model, index, judge):
        self.settings = settings
        self.retriever = retriever
        self.embeddings = embeddings
        self.chat_model = chat_model
        self.index = index
        self.judge = judge

    def stream(self, question: str, k: int | None = None, history: list | None = None) -> Iterator[str | Answer]:
        """Yield text tokens as they are produced, then the final ``Answer``.

        Raises:
            InputError: the question is not text, empty or too long.
            BackendError: the chat model failed.
        """
        clock = StageClock()
        understood = understand_question(question, history or [], self.settings.max_question_chars)
        # One snapshot: every stage sees the same documents, even during another ingest.
        documents: DocumentSnapshot = dict(self.index.manifest().documents)
        metadata = self._start_metadata(understood)
        gathered = self.gather(understood.query, k, documents, clock)
        metadata["retrieved"] = [c.metadata["id"] for c in gathered.chunks]
        metadata["best_evidence_score"] = gathered.best_score()
        verdict = self.decide(understood.asked, gathered, documents)
        if verdict.abstain:
            yield from self._abstain(verdict, gathered.evidence, metadata, clock)
            return
        if verdict.not_covered:
            metadata["not_covered"] = verdict.not_covered
        with clock.measure("generate_s"):
            draft = yield from self.write(understood.asked, gathered.evidence, clock)
        metadata.update(draft.metadata)
        yield self.finish(understood.asked, gathered, draft, verdict, documents, metadata, clock)

    # ----- stages ---------------------------------------------------------------
    def gather(self, query: str, k: int | None, documents: DocumentSnapshot, clock: StageClock) -> GatheredEvidence:
        """Retrieve chunks for ``query``, rank their sentences and choose the evidence."""
        chunks = self.retriever.search(query, k=k or self.settings.k) if query else []
        clock.since_start("retrieve_s")
        with clock.measure("evidence_s"):
            spans, matrix = rank_spans(query, chunks, self.embeddings) if chunks else ([], None)
            evidence = (
                choose_spans(query, spans, matrix, self.settings.evidence_sentences)
                if spans and matrix is not None else []
            )
            attach_source_facts(spans, documents)
        return GatheredEvidence(chunks, spans, evidence)

    def decide(self, asked: str, gathered: GatheredEvidence, documents: DocumentSnapshot) -> Abstention:
        """Whether the evidence answers ``asked`` fully, partly (``not_covered``) or not at all."""
        return check_coverage(
            asked, gathered.chunks, gathered.evidence, self.settings.abstain_threshold,
            newest_corpus_date(documents), self.embeddings,
        )

    def write(self, asked: str, evidence: list[Span], clock: StageClock) -> Generator[str, None, Draft]:
        """Yield the answer's words as they are written; return its draft claims.

        Extractive: the evidence quoted, streamed word by word. LLM: the
        model's tokens as it writes them, then its sentences verified.
        """
        if self.chat_model is None:
            claims = extractive_claims(evidence)
            yield from clock.word_stream(render_claims(claims, evidence).text)
            return Draft(claims)
        sources = model_sources(evidence)
        written: list[str] = []
        for token in stream_model_answer(self.chat_model, self.settings.llm, self.settings.prompts_dir,
                                         asked, sources):
            clock.first_token()
            written.append(token)
            yield token
        return draft_from_model_text("".join(written), evidence, self.judge, len(sources), asked)

    def finish(self, asked: str, gathered: GatheredEvidence, draft: Draft, verdict: Abstention,
               documents: DocumentSnapshot, metadata: dict[str, Any], clock: StageClock) -> Answer:
        """Note conflicts, number the citations, add the closing notes, follow-ups and timings."""
        evidence, conflicts = note_conflicts(asked, gathered.spans, gathered.evidence)
        rendered = render_claims(draft.claims + [c.note for c in conflicts], evidence)
        text = self._closing_notes(asked, rendered, verdict, documents, metadata)
        follow_ups = suggest_follow_ups(asked, documents, gathered.chunks, rendered.citations)
        clock.since_start("total_s")
        return Answer(
            text=text, citations=rendered.citations, claims=rendered.claims, metadata=metadata,
            conflicts=render_conflicts(conflicts, evidence, rendered.citations),
            follow_ups=follow_ups, timings=clock.rounded(),
        )

    # ----- helpers of the stages ----------------------------------------------
    def _start_metadata(self, understood: UnderstoodQuestion) -> dict[str, Any]:
        metadata: dict[str, Any] = {
            "generator": self.settings.llm if self.chat_model is not None else "extractive",
            "query": understood.query,
        }
        if understood.instruction_ignored:
            metadata["instruction_ignored"] = True
        return metadata

    def _abstain(self, verdict: Abstention, evidence: list[Span], metadata: dict[str, Any],
                 clock: StageClock) -> Iterator[str | Answer]:
        """Say why the documents do not answer, quoting the closest evidence when it helps."""
        metadata["abstain_reason"] = verdict.reason
        context = verdict.context_span
        drafts = [DraftClaim(evidence[context].text.strip(), [context])] if context is not None else []
        rendered = render_claims(drafts, evidence)
        text = verdict.message + (f" The closest the documents come: {rendered.text}" if rendered.text else "")
        yield from clock.word_stream(text)
        clock.since_start("total_s")
        yield Answer(text=text, citations=rendered.citations, claims=rendered.claims, abstained=True,
                     metadata=metadata, timings=clock.rounded())

    @staticmethod
    def _closing_notes(asked: str, rendered: RenderedClaims, verdict: Abstention, documents: DocumentSnapshot,
                       metadata: dict[str, Any]) -> str:
        """The rendered text, plus what the documents do not mention and, when asked for the latest, their date.

        The as-of date also goes into ``metadata["as_of"]``.
        """
        text = rendered.text
        if verdict.not_covered:
            text += f" The documents do not mention {_join(verdict.not_covered)}."
        as_of = newest_cited_date(documents, rendered.citations) if wants_latest(asked) else None
        if as_of:
            metadata["as_of"] = as_of
            if not text.startswith(f"As of {as_of}"):
                text = f"As of {as_of} (the newest source date): {text}"
        return text


def _join(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
