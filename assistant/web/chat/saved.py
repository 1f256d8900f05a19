"""A saved conversation as the chat shows it, and as the files its export buttons download.

Saved turns keep the whole verified answer (``Answer.to_dict()``), so an
opened conversation is rendered by the same ``render`` functions as a live
answer: same chips, same sources, same copy button. Next to the messages the
chat keeps one small dict per answer (a "turn ref"): the saved turn id that a
thumb rates, the question the feedback form quotes, the answer text for an
unsaved chat's history, and the latest rating, which Gradio shows as the
selected thumb (``feedback_value``).
"""

from __future__ import annotations

import atexit
import re
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any

import gradio as gr

from assistant.answer import Answer
from assistant.conversations.export import export
from assistant.conversations.records import ConversationRecord, FeedbackRecord
from assistant.web.chat.render import render_answer, render_user

#: What Gradio's thumbs show for each stored rating.
THUMBS = {"up": "Like", "down": "Dislike"}


def turn_ref(
    turn_id: str | None, question: str, answer_text: str, feedback: FeedbackRecord | dict | None = None
) -> dict[str, Any]:
    """What the chat remembers of one answer; ``turn_id`` None when it was not saved (an error)."""
    if isinstance(feedback, FeedbackRecord):
        feedback = feedback.to_dict()
    return {
        "id": turn_id,
        "question": question,
        "answer": answer_text,
        "rating": feedback.get("rating") if feedback else None,
        "feedback": feedback,
    }


def chat_of(conversation: ConversationRecord) -> tuple[list[dict[str, str]], list[dict[str, Any]], Answer | None]:
    """The messages and turn refs of a saved conversation, and its last answer (for the sources panel)."""
    messages: list[dict[str, str]] = []
    refs: list[dict[str, Any]] = []
    last: Answer | None = None
    for turn in conversation.turns:
        last = Answer.from_dict(turn.answer)
        messages.append({"role": "user", "content": render_user(turn.question)})
        messages.append({"role": "assistant", "content": render_answer(last)})
        refs.append(turn_ref(turn.id, turn.question, last.text, turn.feedback))
    return messages, refs, last


def chat_update(transcript: list[dict[str, str]], turns: list[dict[str, Any]]) -> dict[str, Any]:
    """The chatbot showing ``transcript`` with each answer's stored rating as its selected thumb."""
    return gr.update(value=list(transcript), feedback_value=[THUMBS.get(t.get("rating") or "") for t in turns])


def history_of(turns: list[dict[str, Any]]) -> list[dict[str, str]]:
    """The answered turns as ``{"role", "content"}`` pairs: the history when nothing could be saved."""
    out: list[dict[str, str]] = []
    for turn in turns:
        if turn.get("answer"):
            out.append({"role": "user", "content": turn["question"]})
            out.append({"role": "assistant", "content": turn["answer"]})
    return out


# ----- export files --------------------------------------------------------------
_EXPORTS: dict[str, Path] = {}
_EXPORTS_LOCK = threading.Lock()


def _exports_root() -> Path:
    """A private folder for this process's export files (Gradio copies them into its cache to serve them)."""
    with _EXPORTS_LOCK:
        if "root" not in _EXPORTS:
            _EXPORTS["root"] = Path(tempfile.mkdtemp(prefix="assistant-exports-"))
            # Removed when the process exits: every server started used to leave one behind in /tmp.
            atexit.register(shutil.rmtree, _EXPORTS["root"], True)
        return _EXPORTS["root"]


def file_stem(title: str) -> str:
    """A safe file name from a title ("Rare earths: who?" -> "Rare-earths-who")."""
    stem = re.sub(r"[^A-Za-z0-9]+", "-", title).strip("-")[:60].rstrip("-")
    return stem or "conversation"


def write_exports(conversation: ConversationRecord) -> tuple[str, str]:
    """The conversation as a Markdown and a JSON file (rewritten each time), for the download buttons."""
    folder = _exports_root() / conversation.id
    shutil.rmtree(folder, ignore_errors=True)  # an old title's files go
    folder.mkdir(parents=True)
    paths = []
    for fmt in ("md", "json"):
        text, _media_type = export(conversation, fmt)
        path = folder / f"{file_stem(conversation.title)}.{fmt}"
        path.write_text(text, encoding="utf-8")
        paths.append(str(path))
    return paths[0], paths[1]


def forget_exports(conversation_id: str) -> None:
    """Remove a deleted conversation's export files."""
    if re.fullmatch(r"[0-9a-f]{32}", conversation_id or ""):
        shutil.rmtree(_exports_root() / conversation_id, ignore_errors=True)
