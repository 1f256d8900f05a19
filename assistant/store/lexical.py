"""BM25 over chunk texts (bm25s), persisted beside the manifest and keyed by generation."""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from assistant.text.truecase import case_forms
from assistant.text.words import content_words

STALE_TMP_S = 600  # a save takes seconds; older temp folders are leftovers of a crash


def tokenize(text: str) -> list[str]:
    return content_words(text)


class LexicalIndex:
    """A BM25 index over ``(chunk_id, text)`` pairs.

    It is rebuilt only when the index generation changes (after an ingest that
    changed something) and loaded from disk otherwise, never per query.
    """

    def __init__(self, ids: list[str], retriever, forms: dict[str, str] | None = None) -> None:
        self.ids = ids
        self._retriever = retriever
        # How the chunks write their names ("mp" -> "MP"), read with the same pass over the
        # texts, for questions typed without capitals (``text.truecase``).
        self.case_forms = forms or {}

    @classmethod
    def build(cls, ids: list[str], texts: list[str]) -> LexicalIndex:
        import bm25s

        retriever = bm25s.BM25()
        if ids:
            corpus = [tokenize(t) or ["_"] for t in texts]
            retriever.index(_as_tokenized(corpus), show_progress=False)
        return cls(list(ids), retriever, case_forms(texts))

    def search(self, query: str, n: int) -> list[tuple[str, float]]:
        tokens = tokenize(query)
        if not self.ids or not tokens:
            return []
        vocab = self._retriever.vocab_dict
        ids = [vocab[t] for t in tokens if t in vocab]
        if not ids:
            return []
        scores = self._retriever.get_scores(ids)
        n = min(n, len(self.ids))
        top = np.argpartition(-scores, n - 1)[:n]
        top = top[np.argsort(-scores[top])]
        return [(self.ids[i], float(scores[i])) for i in top if scores[i] > 0]

    def save(self, folder: Path, generation: str) -> None:
        # A temp folder of our own: an ingest and a reader reloading after it (or
        # two processes) may save at once, and a shared "lexical.tmp" made one
        # delete the other's files mid-write (found by tests/reliability).
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=folder.name + ".tmp-", dir=folder.parent))
        try:
            if self.ids:
                self._retriever.save(str(tmp / "bm25"))
            (tmp / "ids.json").write_text(json.dumps({"generation": generation, "ids": self.ids}))
            (tmp / "case.json").write_text(json.dumps(self.case_forms))
            shutil.rmtree(folder, ignore_errors=True)
            # If another saver's folder landed first, ours is only a cache: drop it.
            with contextlib.suppress(OSError):
                tmp.rename(folder)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        # Temp folders of saves killed mid-write (kill -9) would pile up: drop old ones.
        for stale in folder.parent.glob(folder.name + ".tmp*"):
            with contextlib.suppress(OSError):
                if time.time() - stale.stat().st_mtime > STALE_TMP_S:
                    shutil.rmtree(stale, ignore_errors=True)

    @classmethod
    def load(cls, folder: Path, generation: str) -> LexicalIndex | None:
        """The saved index if it matches ``generation``, else None."""
        import bm25s

        try:
            meta = json.loads((folder / "ids.json").read_text())
            # An index saved before names were counted has no case.json: rebuilt once.
            forms = json.loads((folder / "case.json").read_text())
        except (OSError, ValueError):
            return None
        if meta.get("generation") != generation:
            return None
        if not meta["ids"]:
            return cls([], bm25s.BM25(), forms)
        try:
            retriever = bm25s.BM25.load(str(folder / "bm25"))
        except Exception:  # a half-written folder: rebuild instead
            return None
        return cls(meta["ids"], retriever, forms)


def _as_tokenized(corpus: list[list[str]]):
    """bm25s wants ids plus a vocabulary; build them from our own tokens."""
    import bm25s

    vocab: dict[str, int] = {}
    ids = [[vocab.setdefault(tok, len(vocab)) for tok in doc] for doc in corpus]
    return bm25s.tokenization.Tokenized(ids=ids, vocab=vocab)
