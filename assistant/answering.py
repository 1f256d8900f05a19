"""The answering chain: retrieve -> select evidence -> generate/stream -> verify -> Answer.

Two generators share everything but the writing step: ``extractive`` quotes
the best-supported source sentences; an LLM writes from a few numbered spans
and every sentence it writes is checked against those spans (see
``claims.py``). What the LLM gets wrong is dropped, and what it leaves out is
completed from the evidence, so the LLM path can only add to the extractive one.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from .claims import build_answer_claims, extractive_claims
from .errors import BackendError, InputError
from .evidence import Span, select_evidence
from .followups import suggest_follow_ups
from .prompts import render_prompt
from .questions import condense_question, wants_latest
from .settings import Settings
from .types import Answer, Citation

ABSTAIN_TEXT = "The documents do not cover this, so I can't answer it from them."
MAX_LLM_SPANS = 4


@dataclass
class Draft:
    """Claims as (sentence, [span indexes]) before citations are numbered."""

    claims: list[tuple[str, list[int], bool, float]] = field(default_factory=list)
    metadata: dict = field(default_factory=dict)


def validate_question(question: object, max_chars: int) -> str:
    """Reject unusable questions with a message naming the value and the fix."""
    if not isinstance(question, str):
        raise InputError(f"question must be text, got {type(question).__name__}; pass a string.")
    cleaned = re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", " ", question)
    cleaned = " ".join(cleaned.split())
    if not cleaned:
        raise InputError("The question is empty; type a question, e.g. 'What did China do in June?'.")
    if len(cleaned) > max_chars:
        raise InputError(
            f"The question is {len(cleaned):,} characters, over the {max_chars:,} limit; "
            "shorten it or raise ASSISTANT_MAX_QUESTION_CHARS."
        )
    return cleaned


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
        """Yield text tokens as they are produced, then the final ``Answer``."""
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        question = validate_question(question, self.settings.max_question_chars)
        query = condense_question(question, history or [])
        chunks = self.retriever.search(query, k=k or self.settings.k)
        timings["retrieve_s"] = time.perf_counter() - t0
        t1 = time.perf_counter()
        evidence = select_evidence(query, chunks, self.embeddings, self.settings.evidence_sentences)
        timings["evidence_s"] = time.perf_counter() - t1
        documents = self.index.manifest().documents
        for span in evidence:
            entry = documents.get(span.doc_id)
            span.date = entry.metadata.get("newest_date") if entry else None
        metadata: dict = {
            "generator": self.settings.llm if self.chat_model is not None else "extractive",
            "query": query,
            "retrieved": [c.metadata["id"] for c in chunks],
            "best_evidence_score": round(evidence[0].score, 4) if evidence else 0.0,
        }
        if not evidence or evidence[0].score < self.settings.abstain_threshold:
            answer = Answer(text=ABSTAIN_TEXT, abstained=True, metadata=metadata)
            yield from _word_stream(answer.text, timings, t0)
            timings["total_s"] = time.perf_counter() - t0
            answer.timings = _rounded(timings)
            yield answer
            return
        t2 = time.perf_counter()
        if self.chat_model is None:
            draft = Draft(extractive_claims(evidence))
            yield from _word_stream(_render(draft, evidence)[0], timings, t0)
        else:
            raw_parts: list[str] = []
            for token in self._generate(question, evidence[:MAX_LLM_SPANS]):
                if "first_token_s" not in timings:
                    timings["first_token_s"] = time.perf_counter() - t0
                raw_parts.append(token)
                yield token
            raw = "".join(raw_parts)
            metadata["llm_raw"] = raw
            draft = Draft(*build_answer_claims(raw, evidence, self.judge, min(MAX_LLM_SPANS, len(evidence)), question))
            metadata.update(draft.metadata)
        timings["generate_s"] = time.perf_counter() - t2
        text, citations, claims = _render(draft, evidence)
        if wants_latest(question):
            newest = max((c.date for c in citations if c.date), default=None)
            if newest:
                text = f"As of {newest} (the newest source date): {text}"
                metadata["as_of"] = newest
        answer = Answer(text=text, citations=citations, claims=claims, metadata=metadata)
        answer.follow_ups = suggest_follow_ups(question, self.index, chunks, citations)
        timings["total_s"] = time.perf_counter() - t0
        answer.timings = _rounded(timings)
        yield answer

    def _generate(self, question: str, spans: list[Span]) -> Iterator[str]:
        from langchain_core.messages import HumanMessage, SystemMessage

        sources = "\n".join(f"[{i}] {s.text}" for i, s in enumerate(spans, start=1))
        messages = [
            SystemMessage(render_prompt("answer_system", self.settings.prompts_dir)),
            HumanMessage(render_prompt("answer_user", self.settings.prompts_dir, sources=sources, question=question)),
        ]
        try:
            for chunk in self.chat_model.stream(messages):
                text = chunk.content if isinstance(chunk.content, str) else ""
                if text:
                    yield text
        except BackendError:
            raise
        except Exception as exc:  # network, server and parsing failures of any backend
            raise BackendError(
                f"The {self.settings.llm} model failed: {type(exc).__name__}: {exc}. "
                "Check the model server (ASSISTANT_OPENAI_BASE_URL / ASSISTANT_OLLAMA_BASE_URL) "
                "or set ASSISTANT_LLM=extractive."
            ) from None


def _render(draft: Draft, evidence: list[Span]) -> tuple[str, list[Citation], list]:
    """Number citations in order of first use and write the answer text."""
    from .types import Claim

    numbering: dict[int, int] = {}
    citations: list[Citation] = []
    sentences: list[str] = []
    claims: list[Claim] = []
    for sentence, span_ids, supported, score in draft.claims:
        ids = []
        for sid in span_ids:
            if sid not in numbering:
                numbering[sid] = len(numbering) + 1
                span = evidence[sid]
                citations.append(
                    Citation(
                        id=numbering[sid], source=span.doc_id, title=span.title, section=span.section,
                        snippet=span.text, start=span.start, end=span.end, score=round(span.score, 4),
                        date=span.date,
                    )
                )
            ids.append(numbering[sid])
        marker = "".join(f" [{n}]" for n in ids)
        body = sentence if sentence.rstrip()[-1:] in ".!?)\"'”’" else sentence.rstrip() + "."
        sentences.append(body + marker)
        claims.append(Claim(text=sentence, citation_ids=ids, supported=supported, score=round(score, 4)))
    return " ".join(sentences), citations, claims


def _word_stream(text: str, timings: dict, t0: float) -> Iterator[str]:
    timings.setdefault("first_token_s", time.perf_counter() - t0)
    for word in re.findall(r"\S+\s*", text):
        yield word


def _rounded(timings: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 4) for k, v in timings.items()}
