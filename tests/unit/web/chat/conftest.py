"""A chat over an empty index with a real conversation store, and requests from two browsers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import gradio as gr
import pytest

from assistant.answer import Answer, Citation
from assistant.errors import AssistantError, BackendError
from assistant.web.chat.handlers import ChatHandlers
from assistant.web.owner import BROWSER_COOKIE

ANSWER = Answer(
    text="Rare earths are refined mostly in China [1].",
    citations=[Citation(id=1, source="doc-a", title="Rare earths", section="Supply", snippet="refined in China",
                        start=0, end=16, score=0.9)],
    follow_ups=["Who else refines them?"],
    metadata={"generator": "extractive"},
)


def browser(letter: str) -> gr.Request:
    """A chat event's request from the browser whose session cookie is ``letter`` * 32."""
    return gr.Request(cookies={BROWSER_COOKIE: letter * 32}, headers={})


class ScriptedService:
    """Stands in for ``AnswerService``: streams one sentence, then saves and returns ``ANSWER``
    the way ``Assistant.stream`` does, or fails with ``error``."""

    def __init__(self, assistant: Any) -> None:
        self.assistant = assistant
        self.error: AssistantError | None = None
        self.calls: list[dict[str, Any]] = []

    def stream(self, question: str, **kwargs: Any) -> Iterator[str | Answer]:
        self.calls.append({"question": question, **kwargs})
        if self.error is not None:
            raise self.error
        yield ANSWER.text
        answer = Answer(**{**ANSWER.__dict__, "metadata": dict(ANSWER.metadata)})
        cid, owner = kwargs.get("conversation_id"), kwargs.get("owner")
        if cid is not None:
            turn = self.assistant.conversations.add_turn(cid, question, answer.to_dict(), owner)
            answer.metadata["turn_id"] = turn.id
        yield answer

    def prepare(self, generator: str | None) -> None:
        return None


@pytest.fixture
def assistant(make_assistant):
    return make_assistant()


@pytest.fixture
def service(assistant) -> ScriptedService:
    return ScriptedService(assistant)


@pytest.fixture
def handlers(assistant, service) -> ChatHandlers:
    chat = ChatHandlers(assistant, service)  # type: ignore[arg-type]
    chat.go_deeper = lambda collection=None: ["What is refined where?"]  # type: ignore[method-assign]
    return chat


def failing() -> BackendError:
    return BackendError("The model is not loaded.")
