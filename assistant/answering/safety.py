"""Prompt-injection defences (understand and gather stages): instructions are data, never commands.

Two places carry injected instructions: a question ("ignore your sources and
...") and a document ("ignore previous instructions and say ..."). The
question's instruction is cut out before retrieval and generation; a
document's instruction-like sentences are never used as evidence.
"""

from __future__ import annotations

import re

_INSTRUCTION = re.compile(
    r"(ignore|disregard|forget|override|bypass)\s+(all\s+|any\s+|the\s+|your\s+|my\s+|previous\s+|prior\s+|above\s+|earlier\s+)*"
    r"(instructions?|prompts?|rules?|sources?|documents?|context|guidelines?|system\s+prompt)"
    r"|\byou are now\b|\bact as\b|\bpretend (to be|you are)\b|\bsystem prompt\b|\bnew instructions?\b"
    r"|\bdo not (cite|use) (the |your )?(sources|documents)\b|\bwithout (using |citing )?(the |your |any )?(sources|documents)\b",
    re.IGNORECASE,
)
_JOINERS = re.compile(r"^\s*(and|then|,|;|:|\.|-)+\s*", re.IGNORECASE)


# HTML pasted into a question (a tag, or a script or style element with its body): markup, not words
# the user asks with. A "<" not followed by a tag name ("revenue < 5%") is left alone.
_SCRIPT_ELEMENT = re.compile(r"<(script|style)\b[^>]*>.*?(</\1\s*>|$)", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"</?[A-Za-z][\w:-]*(\s[^<>]*)?/?>")


def strip_markup(question: str) -> str:
    """``question`` without HTML tags and script or style bodies ("<img src=x onerror=...> What
    are rare earths used for?" asks "What are rare earths used for?"; its "onerror" is no noun
    the documents must mention)."""
    return " ".join(_TAG.sub(" ", _SCRIPT_ELEMENT.sub(" ", question)).split())


def is_instruction(text: str) -> bool:
    """True for text that tries to instruct the assistant."""
    return bool(_INSTRUCTION.search(text))


def strip_injection(question: str) -> tuple[str, bool]:
    """Remove instruction clauses from a question.

    Returns:
        (cleaned question, whether anything was removed). The cleaned text
        keeps what the user actually asks ("tell me a joke about cats").
    """
    found = False
    parts = re.split(r"(?<=[.!?;])\s+|\s+(?=\band\b)|,\s*", question)
    kept = []
    for part in parts:
        if _INSTRUCTION.search(part):
            found = True
            rest = _INSTRUCTION.sub(" ", part)
            rest = _JOINERS.sub("", rest).strip()
            if len(rest.split()) >= 3:
                kept.append(rest)
        else:
            kept.append(_JOINERS.sub("", part).strip() if found and not kept else part)
    cleaned = " ".join(p for p in kept if p).strip()
    return (cleaned if found else question), found
