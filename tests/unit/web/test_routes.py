"""The one server exposes every surface: the JSON API and the OpenAI-compatible routes."""

from fastapi.testclient import TestClient

from assistant.web.app import create_app


def test_api_and_openai_routes_share_one_app(make_assistant, seeds_copy):
    assistant = make_assistant()
    assistant.ingest([seeds_copy])
    client = TestClient(create_app(assistant, with_ui=False))
    assert client.get("/api/health").json()["status"] == "ok"
    models = client.get("/v1/models").json()
    assert models["data"]
    reply = client.post(
        "/v1/chat/completions",
        json={"model": models["data"][0]["id"], "messages": [{"role": "user", "content": "What did customs data show about June exports?"}]},
    )
    assert reply.status_code == 200
    assert "[1]" in reply.json()["choices"][0]["message"]["content"]
