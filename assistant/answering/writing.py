"""Write stage, LLM path: the model writes, and only the sentences the judge verifies leave here.

Two jobs (``ASSISTANT_LLM_WRITER``): ``direct``, one sentence answering
from the best evidence sentence alone (what a 135M model does well), and
``spans``, two or three sentences from at most ``MAX_LLM_SPANS`` numbered
evidence sentences (for a larger model). Either way each sentence is
verified against the evidence (``claims.py``) when it ends and is yielded
as a claim only if it passes: nothing unverified reaches a surface.
"""

from __future__ import annotations

import re
from collections.abc import Generator, Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

from assistant.answering.claims import (
    ClaimChecker,
    DraftClaim,
    direct_claim,
    extractive_claims,
    is_repeat,
)
from assistant.answering.evidence import Span
from assistant.answering.prompts import render_prompt
from assistant.answering.verification import SupportJudge, split_claims, strip_markers
from assistant.errors import BackendError
from assistant.text.tokens import get_encoding
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
_ENDS_SENTENCE = re.compile(r"[.!?][\"'”’)\]]*$")  # a full stop, maybe closed by a quote or bracket


def model_sources(evidence: list[Span]) -> list[str]:
    """The texts the model is shown: the best evidence sentences, within the token budget."""
    return fit_sources([s.text for s in evidence[:MAX_LLM_SPANS]], LLM_SOURCE_TOKENS)


def write_direct(chat_model: Any, llm: str, prompts_dir: Path | None, question: str, evidence: list[Span],
                 judge: SupportJudge) -> Generator[DraftClaim, None, dict[str, Any]]:
    """One sentence by the model from the best evidence sentence, then the evidence quoted.

    The job a small model does well: shown one short span and the question,
    it answers in one direct sentence. The sentence is kept only when the
    judge finds it in that span and it says all the span says: it then
    stands in the span's place, and the other evidence follows. A sentence
    saying only part of the span is not shown (the span, shown anyway, says
    it). Each claim is yielded as soon as it is verified.

    Returns:
        The metadata of the write: ``llm_raw``, ``direct`` (what was written, whether kept, and
        ``shown`` False when kept but said less than its span), ``fallback``.
    """
    from langchain_core.messages import HumanMessage, SystemMessage

    if not evidence:
        return {"llm_raw": ""}
    source = fit_sources([evidence[0].text], LLM_SOURCE_TOKENS)[0]
    messages = [
        SystemMessage(render_prompt("direct_system", prompts_dir)),
        HumanMessage(render_prompt("direct_user", prompts_dir, source=source, question=question)),
    ]
    sentences = ModelSentences(chat_model, llm, messages, max_sentences=1)
    with closing(sentences):
        written = next(iter(sentences), "")
    claim = direct_claim(written, evidence, judge, question) if written else None
    metadata: dict[str, Any] = {"llm_raw": sentences.raw, "direct": {"written": written, "kept": claim is not None}}
    rest = extractive_claims(evidence)
    if claim is None:
        metadata["fallback"] = "extractive: the model's sentence was not supported by the best source"
    elif is_repeat(set(content_words(evidence[0].text)), [set(content_words(claim.text))], limit=0.9):
        yield claim  # it says what the span says: it stands in the span's place
        rest = rest[1:]
    else:
        # It says part of what the span says, and the span would follow it, repeating it:
        # "... a descendant of Joseph Broussard [1]. ... a descendant of Acadian leader Joseph
        # Broussard [1]." The span alone says it all (dev, five suites: 15 such answers, none
        # lost a fact or its first-sentence answer without the model's sentence; 3 lost one
        # without the span's).
        metadata["direct"]["shown"] = False
    yield from rest
    return metadata


def write_from_spans(chat_model: Any, llm: str, prompts_dir: Path | None, question: str, evidence: list[Span],
                     judge: SupportJudge) -> Generator[DraftClaim, None, dict[str, Any]]:
    """Two or three sentences by the model from a few numbered spans, each yielded once verified.

    A sentence is judged as soon as the next one begins (or the model stops),
    with the same judge and re-attribution as the final answer, so what is
    yielded is what the answer keeps. The evidence the model left out follows.

    Returns:
        The metadata of the write: ``llm_raw``, ``repair`` counts, ``fallback``.
    """
    from langchain_core.messages import HumanMessage, SystemMessage

    sources = model_sources(evidence)
    numbered = "\n".join(f"[{i}] {text}" for i, text in enumerate(sources, start=1))
    messages = [
        SystemMessage(render_prompt("answer_system", prompts_dir)),
        HumanMessage(render_prompt("answer_user", prompts_dir, sources=numbered, question=question)),
    ]
    checker = ClaimChecker(evidence, judge, len(sources), question)
    sentences = ModelSentences(chat_model, llm, messages, max_sentences=MAX_LLM_SENTENCES)
    with closing(sentences):
        for sentence in sentences:
            claim = checker.check(sentence)
            if claim is not None:
                yield claim
    yield from checker.completion()
    return {"llm_raw": sentences.raw, **checker.metadata()}


def rewrite_follow_up(chat_model: Any, llm: str, prompts_dir: Path | None, question: str, previous: str) -> str:
    """The model's standalone form of the follow-up ``question`` (its first sentence; unchecked).

    ``questions.checked_rewrite`` decides whether it is used.
    """
    from langchain_core.messages import HumanMessage, SystemMessage

    messages = [
        SystemMessage(render_prompt("condense_system", prompts_dir)),
        HumanMessage(render_prompt("condense_user", prompts_dir, question=question, previous=previous)),
    ]
    sentences = ModelSentences(chat_model, llm, messages, max_sentences=1)
    with closing(sentences):
        return next(iter(sentences), "")


class ModelSentences:
    """The model's finished sentences, each as soon as the next one begins (or the model stops).

    Stops the model once it begins sentence ``max_sentences + 1``; a last
    sentence the token limit cut off mid-way is not yielded
    (``finished_sentences``). ``raw`` holds what the model wrote, up to the stop.

    Raises (while iterating):
        BackendError: the model failed, naming the failure and the settings to check.
    """

    def __init__(self, chat_model: Any, llm: str, messages: list, max_sentences: int) -> None:
        self.chat_model = chat_model
        self.llm = llm
        self.messages = messages
        self.max_sentences = max_sentences
        self.raw = ""
        self._stream: Any = None

    def __iter__(self) -> Iterator[str]:
        done = 0
        with closing(self._tokens()) as tokens:
            for text in tokens:
                written = self.raw + text
                begun = _sentences_begun(written)
                if begun > self.max_sentences:
                    break  # closing the stream stops the model
                self.raw = written
                claims = split_claims(written)
                while done < begun - 1:
                    yield claims[done]
                    done += 1
        yield from split_claims(finished_sentences(self.raw))[done:self.max_sentences]

    def _tokens(self) -> Generator[str, None, None]:
        self._stream = self.chat_model.stream(self.messages)
        try:
            for chunk in self._stream:
                text = chunk.content if isinstance(chunk.content, str) else ""
                if text:
                    yield text
        except BackendError:
            raise
        except Exception as exc:  # network, server and parsing failures of any backend
            raise BackendError(
                f"The {self.llm} model failed: {type(exc).__name__}: {exc}. "
                "Check the model server (ASSISTANT_OPENAI_BASE_URL / ASSISTANT_OLLAMA_BASE_URL) "
                "or set ASSISTANT_LLM=extractive."
            ) from None
        finally:
            self.close()

    def close(self) -> None:
        """Stop the model (a local model stops generating when its stream is closed)."""
        if self._stream is not None and hasattr(self._stream, "close"):
            self._stream.close()
        self._stream = None


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
