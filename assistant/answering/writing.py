"""Write stage, LLM path: prompt the model with a few numbered sources, stream it, check what it wrote.

The model sees at most ``MAX_LLM_SPANS`` evidence sentences, cut to a token
budget, and is stopped after the sentences the prompt asks for. Its text is
then split into sentences and each is verified against the evidence
(``claims.py``); the extractive path needs none of this.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.answering.claims import DraftClaim, build_answer_claims
from assistant.answering.evidence import Span
from assistant.answering.prompts import render_prompt
from assistant.answering.verification import SupportJudge, split_claims, strip_markers
from assistant.errors import BackendError
from assistant.text.tokens import get_encoding

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


@dataclass
class Draft:
    """The write stage's result: the answer's claims, and what writing them did."""

    claims: list[DraftClaim]
    metadata: dict[str, Any] = field(default_factory=dict)  # llm_raw, repair counts, fallback


def model_sources(evidence: list[Span]) -> list[str]:
    """The texts the model is shown: the best evidence sentences, within the token budget."""
    return fit_sources([s.text for s in evidence[:MAX_LLM_SPANS]], LLM_SOURCE_TOKENS)


def stream_model_answer(chat_model: Any, llm: str, prompts_dir: Path | None, question: str,
                        sources: list[str]) -> Iterator[str]:
    """Yield the model's answer as it writes it, stopping after ``MAX_LLM_SENTENCES``.

    Args:
        chat_model: a LangChain chat model.
        llm: the generator's name, for the error message.
        prompts_dir: where the prompt files are (None: the shipped ones).
        question: what the user asks.
        sources: the texts to number [1], [2], ... in the prompt.

    Raises:
        BackendError: the model failed, naming the failure and the settings to check.
    """
    from langchain_core.messages import HumanMessage, SystemMessage

    numbered = "\n".join(f"[{i}] {text}" for i, text in enumerate(sources, start=1))
    messages = [
        SystemMessage(render_prompt("answer_system", prompts_dir)),
        HumanMessage(render_prompt("answer_user", prompts_dir, sources=numbered, question=question)),
    ]
    written = ""
    stream = chat_model.stream(messages)
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
            f"The {llm} model failed: {type(exc).__name__}: {exc}. "
            "Check the model server (ASSISTANT_OPENAI_BASE_URL / ASSISTANT_OLLAMA_BASE_URL) "
            "or set ASSISTANT_LLM=extractive."
        ) from None
    finally:
        stream.close()


def draft_from_model_text(raw: str, evidence: list[Span], judge: SupportJudge, n_sources: int,
                          question: str) -> Draft:
    """Verify, repair and complete what the model wrote (see ``build_answer_claims``)."""
    claims, repair = build_answer_claims(finished_sentences(raw), evidence, judge, n_sources, question)
    return Draft(claims, {"llm_raw": raw, **repair})


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
