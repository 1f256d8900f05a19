"""Thumbs on answers, and the form that turns a thumbs-down into a correction.

A click on a thumb stores the rating at once, so the selected thumb always
says what is stored, and opens a form for the details: a comment, and for a
thumbs-down the right answer in the user's words with the facts it must
contain. Those become gold lines for ``assistant eval`` (see
``conversations.export.gold_lines``). Every check (lengths, counts, a
correction only with a thumbs-down) is the store's, so its message, which
names the field, is what the form shows.
"""

from __future__ import annotations

import re
from typing import Any

import gradio as gr

from assistant.assistant import Assistant
from assistant.errors import AssistantError
from assistant.web.chat.conversations import ConversationHandlers, form_closed
from assistant.web.chat.render import render_feedback_head, render_notice
from assistant.web.chat.saved import THUMBS
from assistant.web.chat.session import owner_of
from assistant.web.chat.view import View

# A comma splits facts, except between two digits ("1,200 tonnes" stays one fact).
_FACT_SPLIT = re.compile(r"(?<!\d),|,(?!\d)")


def parse_facts(text: str | None) -> list[str] | None:
    """The facts typed in the form: one per line, or comma-separated; None when there are none."""
    items: list[str] = []
    for line in (text or "").splitlines():
        items.extend(part.strip() for part in _FACT_SPLIT.split(line))
    return [item for item in items if item] or None


def thumbs(turns: list[dict[str, Any]]) -> dict[str, Any]:
    """The chatbot update that shows each answer's stored rating as its selected thumb."""
    return gr.update(feedback_value=[THUMBS.get(t.get("rating") or "") for t in turns])


def _answer_number(index: Any) -> int:
    """The answer's position among the chat's answers, from the message index Gradio reports."""
    message = index[0] if isinstance(index, (list, tuple)) else index
    return int(message) // 2  # the chat alternates question, answer


class FeedbackHandlers:
    """What the thumbs and the feedback form do."""

    def __init__(self, assistant: Assistant, conversations: ConversationHandlers) -> None:
        self.assistant = assistant
        self.conversations = conversations

    def rate(
        self, turns: list[dict[str, Any]], open_id: str | None, like: gr.LikeData, request: gr.Request
    ) -> tuple[Any, ...]:
        """A thumb was clicked: store the rating and open the form for details."""
        turns = list(turns or [])
        pos = _answer_number(like.index)
        ref = turns[pos] if 0 <= pos < len(turns) else None
        if like.liked not in (True, False):  # the selected thumb clicked again
            return View(chatbot=thumbs(turns), feedback_status=render_notice(
                "A rating stays until you pick the other thumb.", "warn")).outputs()
        if not ref or not ref.get("id"):
            return View(chatbot=thumbs(turns), feedback_status=render_notice(
                "This answer was not saved, so it cannot be rated.", "warn")).outputs()
        rating = "up" if like.liked is True else "down"
        owner = owner_of(self.assistant.settings, request)
        earlier = ref.get("feedback") or {}
        if ref.get("rating") != rating:
            try:
                record = self.assistant.conversations.add_feedback(ref["id"], rating, owner)
            except AssistantError as exc:
                return View(chatbot=thumbs(turns), feedback_status=render_notice(str(exc), "err")).outputs()
            turns[pos] = ref = {**ref, "rating": rating, "feedback": record.to_dict()}
            earlier = {}  # details of the other rating do not carry over
        down = rating == "down"
        return View(
            chatbot=thumbs(turns), turns=turns, form=gr.update(visible=True), target={"pos": pos, "rating": rating},
            form_head=render_feedback_head(ref["question"], rating), comment=earlier.get("comment") or "",
            correction=gr.update(value=earlier.get("correction") or "", visible=down),
            facts=gr.update(value="\n".join(earlier.get("facts") or []), visible=down), feedback_status="",
            **self._exports(open_id, owner),
        ).outputs()

    def send(
        self,
        target: dict[str, Any] | None,
        turns: list[dict[str, Any]],
        open_id: str | None,
        comment: str,
        correction: str,
        facts: str,
        request: gr.Request,
    ) -> tuple[Any, ...]:
        """Store the form's details with the rating; on bad input keep the form open with the store's message."""
        turns = list(turns or [])
        pos = (target or {}).get("pos", -1)
        if not target or not 0 <= pos < len(turns) or not turns[pos].get("id"):
            return View(**form_closed()).outputs()
        ref, rating = turns[pos], target["rating"]
        down = rating == "down"
        details = {
            "comment": comment,
            "correction": correction if down else None,
            "facts": parse_facts(facts) if down else None,
        }
        if not any(v.strip() if isinstance(v, str) else v for v in details.values()):
            return View(**{**form_closed(), "feedback_status": render_notice("Rating saved.")}).outputs()
        owner = owner_of(self.assistant.settings, request)
        try:
            record = self.assistant.conversations.add_feedback(ref["id"], rating, owner, **details)
        except AssistantError as exc:
            return View(feedback_status=render_notice(str(exc), "err")).outputs()
        turns[pos] = {**ref, "rating": rating, "feedback": record.to_dict()}
        done = ("Thanks: your correction is saved with this answer." if record.correction
                else "Thanks: your feedback is saved.")
        return View(turns=turns, **{**form_closed(), "feedback_status": render_notice(done)},
                    **self._exports(open_id, owner)).outputs()

    def close(self) -> tuple[Any, ...]:
        return View(**form_closed()).outputs()

    def _exports(self, open_id: str | None, owner: str) -> dict[str, Any]:
        """Fresh export files: a rating and its correction are part of the export."""
        if not open_id:
            return {}
        try:
            return self.conversations.export_fields(self.assistant.conversations.get(open_id, owner))
        except AssistantError:
            return {}
