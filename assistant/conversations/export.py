"""A conversation as Markdown or JSON, and corrected answers as gold lines for ``assistant eval``."""

from __future__ import annotations

import json
from typing import Any

from assistant.conversations.records import ConversationRecord, FeedbackRecord, TurnRecord
from assistant.errors import InputError

EXPORT_FORMATS = ("md", "json")


def to_markdown(conversation: ConversationRecord) -> str:
    """Each question, its answer with [n] markers, and the numbered sources with their exact snippets."""
    lines = [f"# {conversation.title or 'Conversation'}", "", f"_Started {conversation.created_at[:16].replace('T', ' ')} UTC_"]
    for turn in conversation.turns:
        answer = turn.answer
        lines += ["", f"## {turn.question}", "", str(answer.get("text", "")).strip()]
        if turn.abstained:
            lines += ["", "_The documents do not answer this._"]
        citations = answer.get("citations") or []
        if citations:
            lines += ["", "**Sources**", ""]
            for c in citations:
                where = " · ".join(p for p in (c.get("title"), c.get("section")) if p)
                snippet = " ".join(str(c.get("snippet", "")).split())
                lines.append(f"{c.get('id')}. {where} (`{c.get('source')}`, characters {c.get('start')}–{c.get('end')})")
                lines.append(f"   > {snippet}")
        if turn.feedback:
            lines += ["", _feedback_line(turn.feedback)]
    return "\n".join(lines).rstrip() + "\n"


def _feedback_line(feedback: FeedbackRecord) -> str:
    parts = [f"_Rated {'👍 up' if feedback.rating == 'up' else '👎 down'}_"]
    if feedback.comment:
        parts.append(f"comment: {feedback.comment}")
    if feedback.correction:
        parts.append(f"correction: {feedback.correction}")
    if feedback.facts:
        parts.append("must contain: " + "; ".join(feedback.facts))
    return " — ".join(parts)


def to_json(conversation: ConversationRecord) -> dict[str, Any]:
    return conversation.to_dict()


def export(conversation: ConversationRecord, fmt: str) -> tuple[str, str]:
    """The export's text and media type; ``fmt`` is ``md`` or ``json``."""
    if fmt == "md":
        return to_markdown(conversation), "text/markdown; charset=utf-8"
    if fmt == "json":
        return json.dumps(to_json(conversation), ensure_ascii=False, indent=2) + "\n", "application/json"
    raise InputError(f"format must be one of {', '.join(EXPORT_FORMATS)}, got {fmt!r}.", field="format")


def gold_line(turn: TurnRecord, feedback: FeedbackRecord) -> dict[str, Any]:
    """A down-rated turn's correction in ``eval/gold.jsonl``'s shape.

    The question is the standalone one the assistant answered (a follow-up
    such as "and in 2024?" is stored condensed), so the line runs on its own.
    Each fact the user listed is one required fact with one spelling.
    """
    question = str(turn.answer.get("metadata", {}).get("query") or turn.question)
    line: dict[str, Any] = {
        "id": f"feedback-{turn.id[:12]}",
        "question": question,
        "answerable": True,
        "facts": [[fact] for fact in feedback.facts or []],
        "sources": list(feedback.sources or []),
    }
    if feedback.correction:
        line["answer"] = feedback.correction
    return line


def gold_lines(pairs: list[tuple[TurnRecord, FeedbackRecord]]) -> list[dict[str, Any]]:
    """Gold lines of the down-rated turns that carry a correction, ids unique."""
    return [gold_line(t, f) for t, f in pairs if f.rating == "down" and f.correction]
