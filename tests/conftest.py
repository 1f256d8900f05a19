"""Shared fixtures: fake embeddings, an in-memory Chroma, an Assistant over the seeds."""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
EXPLAINER = "002_629009e0f8bab43f"
STORY = "000_0fda6ccdd058825b"


@pytest.fixture
def seeds_copy(tmp_path: Path) -> Path:
    """A private copy of the seed folder that a test may edit."""
    folder = tmp_path / "corpus"
    shutil.copytree(SEEDS, folder)
    return folder


@pytest.fixture
def fake_embeddings():
    from tests.fakes import HashingEmbeddings

    return HashingEmbeddings()


@pytest.fixture
def chroma_memory():
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    return chromadb.EphemeralClient(settings=ChromaSettings(anonymized_telemetry=False))


@pytest.fixture
def make_assistant(tmp_path: Path, fake_embeddings, chroma_memory):
    """Build an Assistant on fakes with a fresh index dir and collection."""
    from assistant import Assistant

    def build(**overrides):
        overrides.setdefault("index_dir", tmp_path / "index")
        overrides.setdefault("llm", "extractive")
        overrides.setdefault("collection", f"t{uuid.uuid4().hex[:12]}")
        overrides.setdefault("abstain_threshold", 0.3)
        chat_model = overrides.pop("chat_model", None)
        assistant = Assistant(embeddings=fake_embeddings, chroma_client=chroma_memory, chat_model=chat_model, **overrides)
        # A collection per test keeps tests apart in the shared in-memory Chroma; it exists
        # from the start, as if created with `assistant collections create`.
        assistant.collections.ensure(assistant.settings.collection)
        return assistant

    return build
