"""The official ``openai`` Python SDK against our /v1 endpoint, served by uvicorn on 127.0.0.1."""

from __future__ import annotations

import socket
import threading
import time

import openai
import pytest
import uvicorn
from fastapi import FastAPI

from assistant import Assistant
from assistant.web.openai_routes import router
from tests.conftest import EXPLAINER, SEEDS

pytestmark = pytest.mark.integration

TOKEN = "test-token-0123456789"
QUESTION = "How is China enforcing its rare earth export restrictions?"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def base_url(tmp_path_factory):
    assistant = Assistant(index_dir=tmp_path_factory.mktemp("index"), llm="extractive", api_token=TOKEN)
    assistant.ingest([SEEDS])
    app = FastAPI()
    app.state.assistant = assistant
    app.include_router(router)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}/v1"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def client(base_url) -> openai.OpenAI:
    return openai.OpenAI(base_url=base_url, api_key=TOKEN, max_retries=0, timeout=120)


def _seed_text(doc_id: str) -> str:
    return (SEEDS / f"{doc_id}.txt").read_text(encoding="utf-8")


def _assert_cited(citations: list[dict]) -> None:
    assert citations
    for c in citations:
        assert _seed_text(c["source"])[c["start"] : c["end"]] == c["snippet"]
    assert EXPLAINER in {c["source"] for c in citations}


def test_models_lists_the_assistant(client):
    assert [m.id for m in client.models.list()] == ["assistant"]


def test_chat_completion_has_a_cited_answer_and_structured_citations(client):
    completion = client.chat.completions.create(
        model="assistant", messages=[{"role": "user", "content": QUESTION}]
    )
    message = completion.choices[0].message
    assert completion.choices[0].finish_reason == "stop"
    assert message.role == "assistant"
    assert "[1]" in message.content and "\n\nSources:\n[1] " in message.content
    extra = completion.model_extra
    assert extra["abstained"] is False
    _assert_cited(extra["citations"])
    for c in extra["citations"]:
        assert f"[{c['id']}] " in message.content


def test_streaming_sends_chunks_then_citations(client):
    stream = client.chat.completions.create(
        model="assistant", messages=[{"role": "user", "content": QUESTION}], stream=True
    )
    pieces, last = [], None
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            pieces.append(chunk.choices[0].delta.content)
        last = chunk
    text = "".join(pieces)
    assert len(pieces) > 5
    assert last.choices[0].finish_reason == "stop"
    assert "[1]" in text and "Sources:" in text
    _assert_cited(last.model_extra["citations"])
    same = client.chat.completions.create(model="assistant", messages=[{"role": "user", "content": QUESTION}])
    assert text == same.choices[0].message.content


def test_off_topic_question_abstains_without_sources(client):
    completion = client.chat.completions.create(
        model="gpt-4o",  # whatever model a client defaults to, it gets the assistant
        messages=[
            {"role": "system", "content": "You are helpful."},
            {"role": "user", "content": [{"type": "text", "text": "What is the capital of France?"}]},
        ],
    )
    assert completion.model_extra["abstained"] is True
    assert completion.model_extra["citations"] == []
    assert "Sources:" not in completion.choices[0].message.content


def test_a_follow_up_uses_the_conversation(client):
    completion = client.chat.completions.create(
        model="assistant",
        messages=[
            {"role": "user", "content": "What steps is the US taking to reduce dependence on Chinese rare earths?"},
            {"role": "assistant", "content": "The US is investing in domestic mining [1]."},
            {"role": "user", "content": "And what did Apple do?"},
        ],
    )
    assert "Apple" in completion.choices[0].message.content
    assert completion.model_extra["citations"]


def test_errors_reach_the_client_as_openai_errors(client, base_url):
    with pytest.raises(openai.BadRequestError, match="question is empty"):
        client.chat.completions.create(model="assistant", messages=[{"role": "user", "content": "   "}])
    intruder = openai.OpenAI(base_url=base_url, api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError, match="Bearer"):
        intruder.models.list()
    with pytest.raises(openai.AuthenticationError):
        intruder.chat.completions.create(model="assistant", messages=[{"role": "user", "content": QUESTION}])
