"""The ONNX fast path: a local export, fused by ONNX Runtime, that reproduces torch's vectors."""

from __future__ import annotations

import numpy as np
import onnx
import pytest

from assistant.models.embeddings import OnnxSentenceEncoder, ensure_onnx_export, packaged_model_path

pytestmark = pytest.mark.integration

TEXTS = [
    "China's customs data show exports of rare earths jumped 60.3% year-on-year to 7,742 tonnes in June.",
    "How is China enforcing its rare earth export restrictions?",
    "Smugglers mislabelled rare earths as solder paste and ceramics.",
]


def test_fused_export_matches_torch_and_int8_is_close(tmp_path):
    from sentence_transformers import SentenceTransformer

    model_dir = packaged_model_path()
    fused = ensure_onnx_export(model_dir, tmp_path)
    ops = {node.op_type for node in onnx.load(str(fused)).graph.node}
    assert "Attention" in ops, "ONNX Runtime's BERT fusion did not apply"
    reference = SentenceTransformer(str(model_dir), device="cpu").encode(TEXTS, normalize_embeddings=True)
    got = OnnxSentenceEncoder(model_dir, fused).encode(TEXTS)
    assert np.min(np.sum(got * reference, axis=1)) > 0.9999
    int8 = ensure_onnx_export(model_dir, tmp_path, quantized=True)
    got8 = OnnxSentenceEncoder(model_dir, int8).encode(TEXTS)
    assert np.min(np.sum(got8 * reference, axis=1)) > 0.98
    assert ensure_onnx_export(model_dir, tmp_path) == fused  # exported once, then reused
