"""Test doubles: a deterministic bag-of-words embedding that behaves semantically enough."""

from __future__ import annotations

import hashlib

import numpy as np
from langchain_core.embeddings import Embeddings

from assistant.text.words import content_words


class HashingEmbeddings(Embeddings):
    """Hash stemmed content words into a fixed-size, L2-normalised vector.

    Texts sharing words get high cosine similarity, unrelated texts near zero,
    so retrieval and abstention behave like the real model's, offline and fast.
    """

    model_name = "hashing-fake"

    def __init__(self, dim: int = 512) -> None:
        self.dim = dim
        self.calls = 0

    def _vector(self, text: str) -> list[float]:
        vec = np.zeros(self.dim)
        for word in content_words(text):
            h = int(hashlib.md5(word.encode()).hexdigest(), 16)
            vec[h % self.dim] += 1.0 if (h >> 64) % 2 else -1.0
        norm = np.linalg.norm(vec)
        return (vec / norm if norm else vec).tolist()

    def encode(self, texts: list[str]) -> list[list[float]]:
        self.calls += len(texts)
        return [self._vector(t) for t in texts]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encode(texts)

    def embed_query(self, text: str) -> list[float]:
        return self._vector(text)

    def warm_up(self) -> None:
        pass
