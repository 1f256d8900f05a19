"""ASSISTANT_LLM=openai against real and misbehaving OpenAI-compatible servers.

A real ``python -m llama_cpp.server`` serving the packaged SmolLM2 answers the
seed explainer's Go deeper questions (streaming included), is stopped mid-session
(a clear ``BackendError``) and restarted (the same ``Assistant`` recovers). A
small stub server on 127.0.0.1 plays the failures a real deployment meets:
HTTP 500, a malformed body, an empty completion, a stall, an unknown model.
"""

from __future__ import annotations

import atexit
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from assistant import Answer, Assistant
from assistant.errors import BackendError
from assistant.models.chat import max_tokens, packaged_gguf_path
from tests.conftest import EXPLAINER, SEEDS

GO_DEEPER = [
    "How is China enforcing its rare earth export restrictions?",
    "What steps is the US taking to reduce dependence on Chinese rare earths?",
    "Why are rare earths so critical to technology and defense industries?",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    """A server subprocess on a fixed port that a test can stop and start again."""

    def __init__(self, argv: list[str], ready_url: str, log: Path) -> None:
        self.argv, self.ready_url, self.log = argv, ready_url, log
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 120.0) -> None:
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(self.argv, stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        atexit.register(self.stop)  # even if pytest is interrupted before fixture teardown
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.argv[:3]} exited: {self.log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(self.ready_url, timeout=2) as resp:
                    if resp.status == 200:
                        return
            except OSError:
                time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"{self.argv[:3]} not ready after {timeout}s: {self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=15)


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory):
    port = free_port()
    server = ServerProcess(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(packaged_gguf_path()),
         "--model_alias", "smollm2-135m", "--host", "127.0.0.1", "--port", str(port),
         # One thread: on a busy CPU, llama.cpp's threads spin at barriers and 2 run 3x slower.
         "--n_ctx", "2048", "--n_threads", "1", "--seed", "0", "--verbose", "False"],
        f"http://127.0.0.1:{port}/v1/models",
        tmp_path_factory.mktemp("llama") / "server.log",
    )
    server.start()
    server.base_url = f"http://127.0.0.1:{port}/v1"  # type: ignore[attr-defined]
    yield server
    server.stop()


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    """An embedded index of the seeds, built once with the real MiniLM encoder."""
    first = Assistant(index_dir=tmp_path_factory.mktemp("index"), llm="extractive")
    assert sorted(first.ingest([SEEDS]).added) == sorted(["000_0fda6ccdd058825b", EXPLAINER])
    return first


def _assistant_on(seeded: Assistant, base_url: str, **overrides) -> Assistant:
    # 64 tokens hold the two or three sentences the prompt asks for, and keep a CPU-bound
    # server (shared with other jobs) within the suite's time budget.
    overrides.setdefault("llm_max_tokens", 64)
    return Assistant(seeded.settings, embeddings=seeded.embeddings, index_embeddings=seeded.index_embeddings, llm="openai",
                     openai_base_url=base_url, **overrides)


def _assert_answered(answer: Answer) -> None:
    assert not answer.abstained, answer.text
    assert answer.citations and "[1]" in answer.text
    assert EXPLAINER in {c.source for c in answer.citations}
    for c in answer.citations:
        assert (SEEDS / f"{c.source}.txt").read_text(encoding="utf-8")[c.start : c.end] == c.snippet


# ----- a real llama.cpp OpenAI-compatible server -------------------------------------


@pytest.mark.integration
@pytest.mark.parametrize("question", GO_DEEPER)
def test_go_deeper_questions_stream_through_an_openai_compatible_server(llama_server, seeded, question):
    assistant = _assistant_on(seeded, llama_server.base_url)
    events = list(assistant.stream(question))
    final = events[-1]
    assert isinstance(final, Answer) and all(isinstance(e, str) for e in events[:-1])
    assert len(events) > 2  # sentence by sentence, not one blob
    # Timings are rounded to milliseconds: the last sentences can follow the first within one.
    assert final.timings["first_token_s"] <= final.timings["total_s"]
    _assert_answered(final)
    assert final.metadata["generator"] == "openai"
    assert final.metadata["llm_raw"].strip(), "the server's model wrote nothing"
    assert "".join(events[:-1]) == final.text  # only verified sentences streamed: they are the answer


@pytest.mark.integration
def test_stopped_server_gives_a_clear_error_and_a_restart_recovers(llama_server, seeded):
    assistant = _assistant_on(seeded, llama_server.base_url, llm_retries=1)
    _ = assistant.chat_model  # mid-session: the model client exists before the server goes
    llama_server.stop()
    try:
        started = time.monotonic()
        with pytest.raises(BackendError) as err:
            assistant.ask(GO_DEEPER[1])
        assert time.monotonic() - started < 15
        message = str(err.value)
        assert llama_server.base_url in message and "cannot be reached" in message
        assert "ASSISTANT_OPENAI_BASE_URL" in message and "ASSISTANT_LLM=extractive" in message
    finally:
        llama_server.start()
    answer = assistant.ask(GO_DEEPER[1])  # the same object, no rebuild
    _assert_answered(answer)
    assert answer.metadata["generator"] == "openai" and answer.metadata["llm_raw"].strip()


# ----- a stub server for the failures ----------------------------------------------------


class Stub:
    """An OpenAI-compatible endpoint whose replies a test scripts, one per request."""

    def __init__(self, replies: list[Callable[[BaseHTTPRequestHandler, dict], None]]) -> None:
        self.replies = replies
        self.requests: list[dict] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):  # /v1/models
                body = json.dumps({"object": "list", "data": [{"id": "served-model", "object": "model"}]})
                _send(self, 200, body.encode())

            def do_POST(self):
                length = int(self.headers.get("content-length", 0))
                payload = json.loads(self.rfile.read(length) or b"{}")
                stub.requests.append(payload)
                reply = stub.replies[min(len(stub.requests), len(stub.replies)) - 1]
                reply(self, payload)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _send(handler: BaseHTTPRequestHandler, status: int, body: bytes, ctype: str = "application/json") -> None:
    handler.send_response(status)
    handler.send_header("content-type", ctype)
    handler.send_header("content-length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def error_500(handler, payload):
    _send(handler, 500, b'{"error": {"message": "internal error", "type": "server_error"}}')


def malformed(handler, payload):
    _send(handler, 200, b"<html>this is not JSON</html>", "text/html")


def unknown_model(handler, payload):
    body = {"error": {"message": f"The model `{payload.get('model')}` does not exist.",
                      "type": "invalid_request_error", "code": "model_not_found"}}
    _send(handler, 404, json.dumps(body).encode())


def stall(handler, payload):
    time.sleep(4)
    _send(handler, 500, b"{}")


def completion(text: str):
    def reply(handler, payload):
        base = {"id": "x", "created": 0, "model": payload.get("model", "m")}
        if not payload.get("stream"):
            body = {**base, "object": "chat.completion", "choices": [
                {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}]}
            _send(handler, 200, json.dumps(body).encode())
            return
        events = []
        for piece in [text[i : i + 12] for i in range(0, len(text), 12)] or [""]:
            chunk = {**base, "object": "chat.completion.chunk",
                     "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]}
            events.append(f"data: {json.dumps(chunk)}\n\n")
        events.append("data: [DONE]\n\n")
        _send(handler, 200, "".join(events).encode(), "text/event-stream")

    return reply


GOOD = ("China's Ministry of State Security revealed efforts to disrupt smuggling of rare earths "
        "via fake labels and transshipping [1].")


@pytest.fixture
def stub_factory():
    made: list[Stub] = []

    def make(*replies):
        stub = Stub(list(replies))
        made.append(stub)
        return stub

    yield make
    for stub in made:
        stub.close()


@pytest.fixture
def on_stub(make_assistant, seeds_copy):
    """An Assistant on fakes (fast) whose generator is the OpenAI client against ``stub``."""

    def build(stub: Stub, **overrides):
        overrides.setdefault("llm_retries", 2)
        assistant = make_assistant(llm="openai", openai_base_url=stub.base_url, **overrides)
        assistant.ingest([seeds_copy])
        return assistant

    return build


@pytest.mark.integration
def test_http_500_is_retried_with_backoff_then_named(stub_factory, on_stub):
    stub = stub_factory(error_500)
    assistant = on_stub(stub)
    with pytest.raises(BackendError) as err:
        assistant.ask(GO_DEEPER[0])
    assert len(stub.requests) == 3  # one try + ASSISTANT_LLM_RETRIES=2
    assert stub.base_url in str(err.value) and "HTTP 500" in str(err.value)


@pytest.mark.integration
def test_a_transient_500_is_recovered_by_a_retry(stub_factory, on_stub):
    stub = stub_factory(error_500, completion(GOOD))
    answer = on_stub(stub).ask(GO_DEEPER[0])
    assert len(stub.requests) == 2 and not answer.abstained
    assert "smuggling" in answer.metadata["llm_raw"]


@pytest.mark.integration
def test_malformed_response_is_retried_then_named(stub_factory, on_stub):
    stub = stub_factory(malformed)
    with pytest.raises(BackendError) as err:
        on_stub(stub, llm_retries=1).ask(GO_DEEPER[0])
    assert len(stub.requests) == 2
    assert stub.base_url in str(err.value) and "ASSISTANT_OPENAI_BASE_URL" in str(err.value)


@pytest.mark.integration
def test_empty_completion_falls_back_to_the_extractive_answer(stub_factory, on_stub):
    stub = stub_factory(completion(""))
    answer = on_stub(stub, llm_retries=1).ask(GO_DEEPER[0])
    assert len(stub.requests) == 2  # retried once, then accepted as empty
    assert not answer.abstained and answer.citations  # quoted from the evidence instead
    assert answer.metadata["llm_raw"] == ""


@pytest.mark.integration
def test_garbage_completion_does_not_crash_answering(stub_factory, on_stub):
    stub = stub_factory(completion("%%%% [[[ 99 ]]] ~~~ lorem ipsum dolor [7] [Source 3] <|im_end|>"))
    answer = on_stub(stub).ask(GO_DEEPER[0])
    assert not answer.abstained and answer.citations
    assert "ipsum" not in answer.text and "%%%%" not in answer.text
    assert all(claim.supported for claim in answer.claims)


@pytest.mark.integration
def test_a_stalled_server_times_out_and_nothing_hangs(stub_factory, on_stub):
    stub = stub_factory(stall)
    assistant = on_stub(stub, llm_timeout_s=1.0, llm_retries=1)
    started = time.monotonic()
    with pytest.raises(BackendError) as err:
        assistant.ask(GO_DEEPER[0])
    assert time.monotonic() - started < 6
    assert "did not answer within 1s" in str(err.value) and "ASSISTANT_LLM_TIMEOUT_S" in str(err.value)


@pytest.mark.integration
def test_unknown_model_is_not_retried_and_names_the_served_ones(stub_factory, on_stub):
    stub = stub_factory(unknown_model)
    with pytest.raises(BackendError) as err:
        on_stub(stub, openai_model="gpt-nonexistent").ask(GO_DEEPER[0])
    assert len(stub.requests) == 1
    message = str(err.value)
    assert "'gpt-nonexistent'" in message and "served-model" in message
    assert "ASSISTANT_OPENAI_MODEL" in message


@pytest.mark.integration
def test_the_served_model_is_discovered_when_none_is_set(stub_factory, on_stub):
    stub = stub_factory(completion(GOOD))
    assistant = on_stub(stub)
    assistant.ask(GO_DEEPER[0])
    assert stub.requests[0]["model"] == "served-model"
    # llama.cpp's server reads max_tokens, not max_completion_tokens: both are sent.
    assert stub.requests[0]["max_tokens"] == max_tokens(assistant.settings)


@pytest.mark.integration
def test_connection_refused_is_named_quickly(on_stub):
    started = time.monotonic()
    with pytest.raises(BackendError) as err:
        on_stub(_Dead(), llm_retries=1).ask(GO_DEEPER[0])
    assert time.monotonic() - started < 10
    assert "cannot be reached" in str(err.value) and "Start the server" in str(err.value)


class _Dead:
    """A URL with nothing listening."""

    def __init__(self) -> None:
        self.base_url = f"http://127.0.0.1:{free_port()}/v1"
