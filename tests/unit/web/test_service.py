"""Every web surface goes through one AnswerService: same validation, lock and error codes."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from assistant.answer import Answer, final_answer
from assistant.errors import BackendError
from assistant.web.app import create_app
from assistant.web.service import AnswerService, FieldError, first_then_rest

QUESTION = "What did customs data show about June exports?"
TOKEN = "unit-test-token-0123456789"


@pytest.fixture
def app(make_assistant, seeds_copy):
    assistant = make_assistant()
    assistant.ingest([seeds_copy])
    return create_app(assistant, with_ui=False)


def _chat(content: str, stream: bool = False) -> dict:
    # No model: the server's own collection (this fixture's is a named one, not "assistant").
    return {"messages": [{"role": "user", "content": content}], "stream": stream}


def test_a_busy_model_is_a_503_on_every_route(app):
    service: AnswerService = app.state.service
    service.busy_timeout_s = 0.05
    client = TestClient(app)
    held = service.open_stream(QUESTION)  # another question is being answered
    try:
        api = client.post("/api/ask", json={"question": QUESTION})
        assert api.status_code == 503
        assert api.json()["code"] == "backend_unavailable" and "busy" in api.json()["error"]
        assert client.post("/api/ask/stream", json={"question": QUESTION}).status_code == 503
        for stream in (False, True):
            v1 = client.post("/v1/chat/completions", json=_chat(QUESTION, stream))
            assert v1.status_code == 503
            assert v1.json()["error"]["code"] == "backend_unavailable"
            assert v1.json()["error"]["type"] == "server_error"
    finally:
        held.close()  # closing the stream releases the lock
    assert client.post("/v1/chat/completions", json=_chat(QUESTION)).status_code == 200


def test_error_bodies_carry_a_stable_code_not_a_class_name(app):
    client = TestClient(app)
    empty = client.post("/api/ask", json={"question": "   "})
    assert empty.status_code == 400
    assert empty.json() == {"error": empty.json()["error"], "code": "invalid_input", "field": "question"}
    missing = client.post("/api/ask", json={})
    assert missing.status_code == 422 and missing.json()["code"] == "invalid_input"
    assert missing.json()["field"] == "question"
    unknown = client.get("/api/documents/nope")
    assert unknown.status_code == 404 and unknown.json()["code"] == "not_found"
    outside = client.post("/api/ingest", json={"paths": ["/"]})
    assert outside.status_code == 403 and outside.json()["code"] == "forbidden"
    v1 = client.post("/v1/chat/completions", json=_chat("   "))
    assert v1.status_code == 400 and v1.json()["error"]["code"] == "invalid_input"
    assert "question is empty" in v1.json()["error"]["message"]
    no_user = client.post("/v1/chat/completions", json={"messages": [{"role": "system", "content": "hi"}]})
    assert no_user.status_code == 400 and no_user.json()["error"]["code"] == "invalid_input"


def test_an_empty_index_is_a_409_with_its_code(make_assistant):
    client = TestClient(create_app(make_assistant(), with_ui=False))
    res = client.post("/api/ask", json={"question": QUESTION})
    assert res.status_code == 409 and res.json()["code"] == "index_state"
    v1 = client.post("/v1/chat/completions", json=_chat(QUESTION))
    assert v1.status_code == 409 and v1.json()["error"]["code"] == "index_state"


def test_v1_checks_the_token_once_in_the_openai_shape(make_assistant, seeds_copy):
    assistant = make_assistant(api_token=TOKEN)
    assistant.ingest([seeds_copy])
    client = TestClient(create_app(assistant, with_ui=False))
    denied = client.get("/v1/models", headers={"Authorization": "Bearer wrong"})
    assert denied.status_code == 401 and denied.json()["error"]["code"] == "invalid_api_key"
    assert client.get("/v1/models", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    api = client.get("/api/health")
    assert api.status_code == 401 and api.json()["field"] == "Authorization"


def test_the_service_checks_the_generator_and_the_question(make_assistant):
    service = AnswerService(make_assistant())
    with pytest.raises(FieldError, match="generator must be one of") as bad:
        service.ask(QUESTION, generator="gpt-9")
    assert bad.value.field == "generator" and bad.value.code == "invalid_input"
    with pytest.raises(FieldError, match="question is empty"):
        service.open_stream("  ")
    assert service.check_question("  a\x00question  ") == "a question"


def test_final_answer_drains_a_stream():
    answer = Answer(text="done [1]")
    assert final_answer(iter(["do", "ne", answer])) is answer
    with pytest.raises(BackendError, match="without an answer"):
        final_answer(iter(["only tokens"]))


def test_first_then_rest_closes_the_rest():
    closed = []

    def rest():
        try:
            yield "b"
            yield "c"
        finally:
            closed.append(True)

    events = rest()
    first = next(events)
    chained = first_then_rest(first, events)
    assert next(chained) == "b"
    chained.close()
    assert closed == [True]
    assert list(first_then_rest("a", (x for x in "bc"))) == ["a", "b", "c"]
