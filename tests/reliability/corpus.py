"""Generated corpora for the reliability tests: many small, distinct documents cut from the seeds."""

from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import SEEDS


def seed_sentences() -> list[str]:
    """Sentences of the seed documents, long enough to read like news text."""
    text = "\n".join(p.read_text(encoding="utf-8") for p in sorted(SEEDS.glob("*.txt")))
    parts = re.split(r"(?<=[.!?])\s+", text)
    return [" ".join(p.split()) for p in parts if 60 <= len(p) <= 400]


def marker(i: int) -> str:
    """A token found in exactly one generated document, so a search for it must find that one."""
    return f"QX{i:04d}ZR"


def make_corpus(folder: Path, n: int, sentences_per_doc: int = 4) -> list[Path]:
    """Write ``n`` small .txt documents (one chunk each) and return their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    sentences = seed_sentences()
    paths = []
    for i in range(n):
        body = [sentences[(i * 7 + j) % len(sentences)] for j in range(sentences_per_doc)]
        text = (
            f"Dispatch {i} on rare earths\n\n"
            f"Reference code {marker(i)} identifies dispatch number {i}. " + " ".join(body) + "\n"
        )
        path = folder / f"doc{i:04d}.txt"
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths
