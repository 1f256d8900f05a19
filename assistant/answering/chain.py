"""The answering chain: retrieve -> select evidence -> generate/stream -> verify -> Answer.

Two generators share everything but the writing step: ``extractive`` quotes
the best-supported source sentences; an LLM writes from a few numbered spans
and every sentence it writes is checked against those spans (``claims.py``).
What the LLM gets wrong is dropped, and what it leaves out is completed from
the evidence, so the LLM path can only add to the extractive one.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

from assistant.answer import Answer, Citation, Claim, Conflict
from assistant.answering.abstention import Abstention, check_coverage
from assistant.answering.claims import ClaimTuple, build_answer_claims, extractive_claims
from assistant.answering.conflicts import find_conflicts
from assistant.answering.evidence import Span, choose_spans, rank_spans
from assistant.answering.evidence_coverage import asks_about_amount
from assistant.answering.followups import suggest_follow_ups
from assistant.answering.prompts import render_prompt
from assistant.answering.questions import condense_question, wants_latest
from assistant.answering.safety import strip_injection
from assistant.answering.verification import split_claims, strip_markers
from assistant.errors import BackendError, InputError
from assistant.ingest.chunking import get_encoding
from assistant.ingest.formats import page_for_offset
from assistant.settings import Settings
from assistant.text.words import content_words

MAX_LLM_SPANS = 4
# The prompt asks for "two or three short sentences"; a small model often goes on
# past that until max_tokens. Sentences after these are cut (they are rarely
# supported), which bounds the wait for the rest of the answer.
MAX_LLM_SENTENCES = 3
# Tokens (cl100k) of quoted sources in the model's prompt. Evidence sentences are
# short (4 are ~150 tokens), but one "sentence" of a PDF without punctuation can
# run to thousands: past this budget a source is cut, so the prompt always fits
# the local model's 2,048-token window and its first token never waits on a
# huge prompt.
LLM_SOURCE_TOKENS = 512
MIN_SOURCE_TOKENS = 24  # a cut source shorter than this says too little to be worth a number
CONFLICT_NOTE_PREFIX = "The sources differ on "
_ENDS_SENTENCE = re.compile(r"[.!?][\"'”’)\]]*$")  # a full stop, maybe closed by a quote or bracket


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
        asked, injected = strip_injection(question)
        query = condense_question(asked, history or []) if asked else ""
        metadata: dict = {
            "generator": self.settings.llm if self.chat_model is not None else "extractive",
            "query": query,
        }
        if injected:
            metadata["instruction_ignored"] = True
        chunks = self.retriever.search(query, k=k or self.settings.k) if query else []
        timings["retrieve_s"] = time.perf_counter() - t0
        t1 = time.perf_counter()
        spans, matrix = rank_spans(query, chunks, self.embeddings) if chunks else ([], None)
        evidence = (
            choose_spans(query, spans, matrix, self.settings.evidence_sentences) if spans and matrix is not None else []
        )
        self._attach_dates(spans)
        timings["evidence_s"] = time.perf_counter() - t1
        metadata["retrieved"] = [c.metadata["id"] for c in chunks]
        metadata["best_evidence_score"] = round(evidence[0].score, 4) if evidence else 0.0
        verdict = check_coverage(
            asked, chunks, evidence, self.settings.abstain_threshold, self._corpus_newest(), self.embeddings
        )
        if verdict.abstain:
            yield from self._abstain(verdict, evidence, metadata, timings, t0)
            return
        if verdict.not_covered:
            metadata["not_covered"] = verdict.not_covered
        t2 = time.perf_counter()
        if self.chat_model is None:
            claims = extractive_claims(evidence)
            yield from _word_stream(_render(claims, evidence)[0], timings, t0)
        else:
            raw_parts: list[str] = []
            sources = fit_sources([s.text for s in evidence[:MAX_LLM_SPANS]], LLM_SOURCE_TOKENS)
            for token in self._generate(asked, sources):
                timings.setdefault("first_token_s", time.perf_counter() - t0)
                raw_parts.append(token)
                yield token
            metadata["llm_raw"] = "".join(raw_parts)
            claims, repair = build_answer_claims(
                finished_sentences(metadata["llm_raw"]), evidence, self.judge, len(sources), asked
            )
            metadata.update(repair)
        timings["generate_s"] = time.perf_counter() - t2
        conflicts = self._conflicts(asked, spans, evidence, claims)
        text, citations, answer_claims = _render(claims, evidence)
        if verdict.not_covered:
            text += f" The documents do not mention {_join(verdict.not_covered)}."
        if wants_latest(asked):
            as_of = self._newest_date(citations)
            if as_of:
                metadata["as_of"] = as_of
                if not text.startswith(f"As of {as_of}"):
                    text = f"As of {as_of} (the newest source date): {text}"
        answer = Answer(text=text, citations=citations, claims=answer_claims, metadata=metadata)
        answer.conflicts = [
            Conflict(topic, [{"text": evidence[a].text, "citation_id": _cid(citations, evidence[a])},
                             {"text": evidence[b].text, "citation_id": _cid(citations, evidence[b])}])
            for topic, a, b in conflicts
        ]
        answer.follow_ups = suggest_follow_ups(asked, self.index, chunks, citations)
        timings["total_s"] = time.perf_counter() - t0
        answer.timings = _rounded(timings)
        yield answer

    # ----- steps ---------------------------------------------------------------
    def _abstain(self, verdict: Abstention, evidence: list[Span], metadata: dict, timings: dict, t0: float):
        metadata["abstain_reason"] = verdict.reason
        claims: list[ClaimTuple] = []
        if verdict.context_span is not None:
            claims = [(evidence[verdict.context_span].text.strip(), [verdict.context_span], True, 1.0)]
        context, citations, answer_claims = _render(claims, evidence)
        text = verdict.message + (f" The closest the documents come: {context}" if context else "")
        yield from _word_stream(text, timings, t0)
        timings["total_s"] = time.perf_counter() - t0
        yield Answer(text=text, citations=citations, claims=answer_claims, abstained=True,
                     metadata=metadata, timings=_rounded(timings))

    def _attach_dates(self, spans: list[Span]) -> None:
        """Each span's source date, and its page for paged sources."""
        documents = self.index.manifest().documents
        for span in spans:
            entry = documents.get(span.doc_id)
            span.date = entry.metadata.get("newest_date") if entry else None
            span.page = page_for_offset(entry.metadata, span.start) if entry else None

    def _corpus_newest(self) -> tuple[str, str] | None:
        """(iso, as written) of the newest date in any indexed document."""
        dates = [d for e in self.index.manifest().documents.values() for d in e.metadata.get("dates", [])]
        newest = max(dates, key=lambda d: d["iso"], default=None)
        return (newest["iso"], newest["text"]) if newest else None

    def _newest_date(self, citations: list[Citation]) -> str | None:
        """The newest date written in a cited source, as the source wrote it."""
        documents = self.index.manifest().documents
        dates = [d for c in citations for d in documents[c.source].metadata.get("dates", [])
                 if c.source in documents]
        return max(dates, key=lambda d: d["iso"])["text"] if dates else None

    def _conflicts(self, question: str, spans: list[Span], evidence: list[Span], claims: list[ClaimTuple]) -> list:
        """Add a sentence citing both sides of each disagreement that bears on the question.

        Any retrieved sentence may disagree with the evidence (the shared name
        and kind of amount tie them together), but a disagreement is only worth
        saying when the question names its subject or the top evidence states it.
        """
        if not evidence:
            return []
        question_words = set(content_words(question))
        out = []
        for found in find_conflicts(spans):
            # The question names the thing and asks about an amount, or the top evidence states it.
            about_question = set(content_words(found.owner)) <= question_words and asks_about_amount(question)
            if not about_question and evidence[0] not in (found.first, found.second):
                continue
            ids = []
            for span in (found.first, found.second):
                if span not in evidence:
                    evidence.append(span)
                ids.append(evidence.index(span))
            claims.append((
                f"{CONFLICT_NOTE_PREFIX}{found.topic}: one says “{found.first_amount}”, "
                f"the other “{found.second_amount}”",
                ids, True, 1.0, "conflict",
            ))
            out.append((found.topic, ids[0], ids[1]))
        return out

    def _generate(self, question: str, sources: list[str]) -> Iterator[str]:
        from langchain_core.messages import HumanMessage, SystemMessage

        numbered = "\n".join(f"[{i}] {text}" for i, text in enumerate(sources, start=1))
        messages = [
            SystemMessage(render_prompt("answer_system", self.settings.prompts_dir)),
            HumanMessage(render_prompt("answer_user", self.settings.prompts_dir, sources=numbered, question=question)),
        ]
        written = ""
        stream = self.chat_model.stream(messages)
        try:
            for chunk in stream:
                text = chunk.content if isinstance(chunk.content, str) else ""
                if not text:
                    continue
                written += text
                if _sentences_begun(written) > MAX_LLM_SENTENCES:
                    break  # closing the stream (below) stops the model
                yield text
        except BackendError:
            raise
        except Exception as exc:  # network, server and parsing failures of any backend
            raise BackendError(
                f"The {self.settings.llm} model failed: {type(exc).__name__}: {exc}. "
                "Check the model server (ASSISTANT_OPENAI_BASE_URL / ASSISTANT_OLLAMA_BASE_URL) "
                "or set ASSISTANT_LLM=extractive."
            ) from None
        finally:
            stream.close()


def _render(claims: list[ClaimTuple], evidence: list[Span]) -> tuple[str, list[Citation], list[Claim]]:
    """Number citations in order of first use and write the answer text."""
    numbering: dict[int, int] = {}
    citations: list[Citation] = []
    sentences: list[str] = []
    out: list[Claim] = []
    for sentence, span_ids, supported, score, *extra in claims:
        kind = extra[0] if extra else "fact"
        ids = []
        for sid in span_ids:
            if sid not in numbering:
                numbering[sid] = len(numbering) + 1
                span = evidence[sid]
                citations.append(Citation(
                    id=numbering[sid], source=span.doc_id, title=span.title, section=span.section,
                    snippet=span.text, start=span.start, end=span.end, score=round(span.score, 4),
                    date=span.date, page=span.page,
                ))
            ids.append(numbering[sid])
        body = sentence.rstrip()
        if body[-1:] in ".!?":
            body, stop = body[:-1], body[-1]
        else:
            stop = "."
        # Markers go before the full stop so a sentence splitter keeps them together.
        sentences.append(body + "".join(f" [{n}]" for n in ids) + stop)
        out.append(Claim(text=sentence, citation_ids=ids, supported=supported, score=round(score, 4), kind=kind))
    return " ".join(sentences), citations, out


def _cid(citations: list[Citation], span: Span) -> int:
    return next(c.id for c in citations if c.source == span.doc_id and c.start == span.start)


def fit_sources(texts: list[str], budget: int) -> list[str]:
    """The leading ``texts`` that fit ``budget`` tokens; the last one that does not fit is cut to the rest.

    Sources of at most ``2 * budget`` UTF-8 bytes pass as they are: a token is
    at least one byte, so they are at most that many tokens, well inside the
    window, and the common case skips loading the tokenizer (~0.5 s cold).
    """
    if sum(len(t.encode("utf-8")) for t in texts) <= 2 * budget:
        return list(texts)
    encoding = get_encoding()
    out: list[str] = []
    room = budget
    for text in texts:
        if room < MIN_SOURCE_TOKENS:
            break
        tokens = encoding.encode(text, disallowed_special=())
        if len(tokens) > room:
            text = encoding.decode(tokens[:room]).rstrip() + " …"
        out.append(text)
        room -= min(len(tokens), room)
    return out


def finished_sentences(raw: str) -> str:
    """``raw`` without a last sentence the token limit cut off mid-way.

    A cut sentence ("... emphasizing its ability") can still share enough
    words with a source to pass verification, while saying something the
    source does not; it is never a claim.
    """
    claims = split_claims(raw)
    if claims and not _ENDS_SENTENCE.search(strip_markers(claims[-1]).rstrip()):
        claims = claims[:-1]
    return " ".join(claims)


def _sentences_begun(text: str) -> int:
    """Sentences in ``text``, counting the last only once it has a word (not a lone "[" or "2)")."""
    claims = split_claims(text)
    if claims and not re.search(r"[A-Za-z]{2}", strip_markers(claims[-1])):
        return len(claims) - 1
    return len(claims)


def _join(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def _word_stream(text: str, timings: dict, t0: float) -> Iterator[str]:
    timings.setdefault("first_token_s", time.perf_counter() - t0)
    yield from re.findall(r"\S+\s*", text)


def _rounded(timings: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 4) for k, v in timings.items()}
