"""Understand stage: what the user asks, and the query to search for.

The question is validated, instructions aimed at the assistant are cut out
(``safety.py``), and a follow-up that leans on the previous turn ("And
Japan?") becomes a standalone query. A chat model may rewrite the follow-up
("What about smuggling?" -> "How is China fighting rare earth smuggling?");
the rewrite is used only when it keeps every content word of the follow-up
and every named thing of the previous question and adds no word of its own,
else the follow-up is condensed without a model. The finish stage also asks
this stage whether the question wants the latest news (the as-of note).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from assistant.answering.safety import strip_injection, strip_markup
from assistant.errors import InputError
from assistant.text.language import NAME_LABELS, read
from assistant.text.truecase import truecase
from assistant.text.words import content_words

#: Rewrites (follow-up, previous question) into one standalone question; the model's job.
Rewriter = Callable[[str, str], str]

_FOLLOW_UP = re.compile(
    r"^(and|but|also|what about|how about|why|so)\b|\b(it|its|they|them|their|this|that|these|those|he|she|there)\b",
    re.IGNORECASE,
)
_LATEST = re.compile(r"\b(now|latest|currently|current|today|recent(ly)?|so far|as of|still)\b", re.IGNORECASE)
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass(frozen=True)
class UnderstoodQuestion:
    """The understand stage's result."""

    asked: str  # what the user asks, without instructions aimed at the assistant
    query: str  # a standalone search query; "" when nothing is left to ask
    instruction_ignored: bool  # an instruction was cut out of the question
    rewritten: str = ""  # the model's standalone rewrite of a follow-up, when it passed the checks

    @property
    def standalone(self) -> str:
        """The question as it is put to a model: the verified rewrite, else what was asked."""
        return self.rewritten or self.asked


def understand_question(question: object, history: list, max_chars: int,
                        rewrite: Rewriter | None = None, case_forms: dict[str, str] | None = None
                        ) -> UnderstoodQuestion:
    """Validate ``question``, cut out HTML markup and injected instructions, and condense a follow-up.

    Args:
        question: the user's text, as received (anything: surfaces pass it on unchecked).
        history: earlier turns, as ``condense_question`` accepts them.
        max_chars: the longest question accepted (``ASSISTANT_MAX_QUESTION_CHARS``).
        rewrite: a model that rewrites a follow-up as a standalone question (None: no model).
        case_forms: how the documents write their names (``Index.case_forms``): a question
            typed without capitals gets them back ("mp materials" -> "MP Materials"), so
            the checks that read names see them.

    Raises:
        InputError: the question is not text, is empty, or is too long.
    """
    cleaned = validate_question(question, max_chars)
    asked, injected = strip_injection(strip_markup(cleaned))
    asked = truecase(asked, case_forms or {}) if asked else asked
    query = condense_question(asked, history) if asked else ""
    rewritten = ""
    if rewrite is not None and query != asked:  # a follow-up
        previous = _user_turns(history)[-1]
        rewritten = checked_rewrite(asked, previous, rewrite(asked, previous))
        query = rewritten or query
    return UnderstoodQuestion(asked=asked, query=query, instruction_ignored=injected, rewritten=rewritten)


def checked_rewrite(question: str, previous: str, rewritten: str) -> str:
    """``rewritten`` when it is a faithful standalone form of the follow-up ``question``, else "".

    Faithful: one question (not an answer, not the previous question again) that keeps every content word of the follow-up and
    every named thing (spaCy entity) of the previous question, takes at least
    one word from the previous question (else it resolved nothing), and adds
    at most one content word that is in neither (a linking word such as
    "against"; a small model otherwise adds topics of its own).
    """
    lines = [line for line in rewritten.splitlines() if line.strip()]
    rewritten = " ".join(lines[0].strip().strip("\"'“”").split()) if lines else ""
    if (not rewritten.endswith("?") or rewritten.lower() == previous.lower()
            or len(rewritten) > 2 * (len(question) + len(previous))):
        return ""  # an answer, a heading, or the previous question repeated: not the follow-up
    mine, theirs, new = set(content_words(question)), set(content_words(previous)), set(content_words(rewritten))
    if not mine <= new or not new & (theirs - mine) or len(new - mine - theirs) > 1:
        return ""
    lowered = rewritten.lower()
    for entity in read(previous).entities:
        if entity.label in NAME_LABELS and entity.text.lower() not in lowered:
            return ""
    return rewritten


def validate_question(question: object, max_chars: int) -> str:
    """Reject unusable questions with a message naming the value and the fix.

    Returns:
        The question with control characters and runs of whitespace collapsed.

    Raises:
        InputError: the question is not text, is empty, or is over ``max_chars``.
    """
    if not isinstance(question, str):
        raise InputError(f"question must be text, got {type(question).__name__}; pass a string.")
    cleaned = " ".join(_CONTROL_CHARACTERS.sub(" ", question).split())
    if not cleaned:
        raise InputError("The question is empty; type a question, e.g. 'What did China do in June?'.")
    if len(cleaned) > max_chars:
        raise InputError(
            f"The question is {len(cleaned):,} characters, over the {max_chars:,} limit; "
            "shorten it or raise ASSISTANT_MAX_QUESTION_CHARS."
        )
    return cleaned


def _user_turns(history: list) -> list[str]:
    """Accept [{'role','content'}] messages or [(user, assistant)] pairs."""
    turns = []
    for item in history:
        if isinstance(item, dict):
            if item.get("role") == "user" and isinstance(item.get("content"), str):
                turns.append(item["content"])
        elif isinstance(item, (list, tuple)) and item and isinstance(item[0], str):
            turns.append(item[0])
    return turns


def condense_question(question: str, history: list) -> str:
    """A standalone retrieval query for a follow-up like 'And what is Japan doing?'.

    The last user question's content words are added when the new question
    leans on it (a pronoun, a leading 'and'/'what about', or very few content
    words of its own); a self-contained question is left alone.
    """
    turns = _user_turns(history)
    if not turns:
        return question
    own = content_words(question)
    if not _FOLLOW_UP.search(question) and len(own) > 3:
        return question
    previous = turns[-1]
    return f"{question} (context: {previous})"


def wants_latest(question: str) -> bool:
    """Whether the question asks about now ("latest", "currently", "so far"): the answer then says its date."""
    return bool(_LATEST.search(question))
