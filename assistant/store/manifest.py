"""The index manifest: which documents are indexed, with what model and chunk settings.

Two stores, one interface (``load``, ``save``, ``is_newer_than``, ``save_text``,
``load_text``):

- ``ManifestFile`` (embedded mode): ``manifest.json`` in the index folder,
  written atomically (temp file + rename) so a crash leaves the old or the new
  manifest, never half of one.
- ``ChromaManifestStore`` (server mode): records in a second collection of the
  Chroma server, ``<collection>__manifest``, so every process and machine using
  that server sees the same documents. One header record carries the
  generation; one record per document carries its entry as JSON; one record per
  document carries its full text (for the source viewer on any replica).

A manifest's ``uid`` changes whenever an index is built from scratch and its
``generation`` on every ingest that changed something; readers compare both
to notice another process's ingest and reload.
"""

from __future__ import annotations

import bisect
import json
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1
# How often a reader in server mode asks the server whether the manifest changed.
SERVER_CHECK_INTERVAL_S = 1.0


@dataclass
class DocumentEntry:
    hash: str
    path: str
    title: str
    chunk_ids: list[str]
    sections: list[str] = field(default_factory=list)
    metadata: dict = field(default_factory=dict)

    def page_at(self, offset: int) -> int | None:
        """The 1-based PDF page holding character ``offset`` of the document's text.

        Ingest records ``metadata["pages"]`` as ``[[start, end, page_no], ...]``
        in text order; the answer reads it here, so citing a page needs the
        manifest only, not the PDF reader. The blank lines between two pages
        count as the page before.

        Returns:
            The page number, or None for a document without pages (not a PDF)
            or a negative offset.

        Example:
            >>> DocumentEntry("h", "a.pdf", "A", [], metadata={"pages": [[0, 100, 1], [102, 250, 2]]}).page_at(120)
            2
        """
        pages = (self.metadata or {}).get("pages") or []
        if not pages or offset < 0:
            return None
        starts = [page[0] for page in pages]
        i = bisect.bisect_right(starts, offset) - 1
        return int(pages[max(i, 0)][2])


def _new_uid() -> str:
    return uuid.uuid4().hex[:12]


@dataclass
class Manifest:
    embedding_model: str
    chunk_tokens: int
    chunk_overlap: int
    documents: dict[str, DocumentEntry] = field(default_factory=dict)
    generation: int = 0
    schema: int = SCHEMA_VERSION
    uid: str = field(default_factory=_new_uid)

    def settings_key(self) -> tuple:
        return (self.schema, self.embedding_model, self.chunk_tokens, self.chunk_overlap)

    def generation_key(self) -> str:
        # uid too: two indexes rebuilt to the same generation must not share a lexical cache.
        return f"{self.uid}:{self.generation}:{len(self.documents)}"

    def version(self) -> tuple[str, int]:
        return (self.uid, self.generation)

    def chunk_ids(self) -> set[str]:
        """Every chunk id the manifest lists, across documents."""
        return {cid for entry in self.documents.values() for cid in entry.chunk_ids}

    def header(self) -> dict[str, Any]:
        return {
            "schema": self.schema,
            "uid": self.uid,
            "embedding_model": self.embedding_model,
            "chunk_tokens": self.chunk_tokens,
            "chunk_overlap": self.chunk_overlap,
            "generation": self.generation,
        }

    def to_json(self) -> str:
        data = self.header()
        data["documents"] = {k: vars(v) for k, v in sorted(self.documents.items())}
        return json.dumps(data, indent=1, ensure_ascii=False)

    @classmethod
    def from_header(cls, data: dict[str, Any], documents: dict[str, DocumentEntry]) -> Manifest:
        return cls(
            embedding_model=data["embedding_model"],
            chunk_tokens=int(data["chunk_tokens"]),
            chunk_overlap=int(data["chunk_overlap"]),
            documents=documents,
            generation=int(data.get("generation", 0)),
            schema=int(data.get("schema", SCHEMA_VERSION)),
            # Manifests written before uids existed all share one, which is stable.
            uid=str(data.get("uid") or "legacy"),
        )

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        data = json.loads(text)
        docs = {k: DocumentEntry(**v) for k, v in data.get("documents", {}).items()}
        return cls.from_header(data, docs)


class ManifestFile:
    """Manifest persisted as ``manifest.json`` in the index folder (embedded mode)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: tuple[int, int] | None = None
        self._version: tuple[str, int] | None = None

    def load(self) -> Manifest | None:
        try:
            st = self.path.stat()
            manifest = Manifest.from_json(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError):
            # A corrupt manifest is treated as absent: the next ingest rebuilds.
            return None
        self._stamp, self._version = (st.st_mtime_ns, st.st_size), manifest.version()
        return manifest

    def save(self, manifest: Manifest) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(f".json.{os.getpid()}.tmp")
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(manifest.to_json())
            fh.flush()
            os.fsync(fh.fileno())
            st = os.fstat(fh.fileno())
        os.replace(tmp, self.path)
        # What this process wrote is what it holds: remember its stamp, so the next
        # freshness check does not parse our own write again. Taken from the temp file
        # (a rename keeps mtime and size), so a writer racing after the rename is still seen.
        self._stamp, self._version = (st.st_mtime_ns, st.st_size), manifest.version()

    def is_newer_than(self, manifest: Manifest) -> bool:
        """True when another ingest (any process) has changed the stored manifest.

        A ``stat`` per call; the file is parsed again only when it changed.
        """
        try:
            st = self.path.stat()
        except OSError:
            return False
        stamp = (st.st_mtime_ns, st.st_size)
        if stamp != self._stamp and self.load() is None:
            return False
        return self._version is not None and self._version != manifest.version()

    def save_text(self, doc_id: str, text: str) -> None:
        """Texts live beside the manifest in ``documents/``; the index writes them."""

    def load_text(self, doc_id: str) -> str | None:
        return None


class ChromaManifestStore:
    """The manifest kept in the Chroma server, shared by every process that uses it.

    Records of ``<collection>__manifest`` (1-d dummy embeddings; Chroma needs
    one): ``__manifest__`` the header, ``doc:<id>`` an entry, ``text:<id>`` a
    document's text. A save writes changed entries first and the header last,
    so a reader that sees a new generation sees every entry it covers.
    """

    HEADER_ID = "__manifest__"

    def __init__(
        self,
        collection: Callable[[], Any],
        call: Callable[[Callable[[], Any]], Any],
        check_interval_s: float = SERVER_CHECK_INTERVAL_S,
    ) -> None:
        self._collection = collection
        self._call = call
        self._check_interval_s = check_interval_s
        self._saved: dict[str, str] = {}
        self._version: tuple[str, int] | None = None
        self._checked_at = float("-inf")

    @staticmethod
    def collection_name(collection: str) -> str:
        return f"{collection}__manifest"

    def load(self) -> Manifest | None:
        col = self._collection()
        got = self._call(lambda: col.get(where={"kind": {"$in": ["header", "entry"]}},
                                         include=["documents", "metadatas"]))
        header: dict[str, Any] | None = None
        entries: dict[str, str] = {}
        for rid, text, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True):
            if rid == self.HEADER_ID:
                header = json.loads(text)
            elif meta and meta.get("kind") == "entry":
                entries[str(meta["doc_id"])] = text
        if header is None:
            return None
        try:
            docs = {k: DocumentEntry(**json.loads(v)) for k, v in entries.items()}
            manifest = Manifest.from_header(header, docs)
        except (ValueError, KeyError, TypeError):
            return None  # treated as absent, like a corrupt manifest.json
        self._saved = entries
        self._version, self._checked_at = manifest.version(), time.monotonic()
        return manifest

    def save(self, manifest: Manifest) -> None:
        col = self._collection()
        entries = {k: json.dumps(vars(v), ensure_ascii=False, sort_keys=True)
                   for k, v in manifest.documents.items()}
        stored = self._call(lambda: col.get(where={"kind": "entry"}, include=["metadatas"]))
        stored_ids = {str(m["doc_id"]) for m in stored["metadatas"] if m}
        changed = sorted(k for k, v in entries.items() if self._saved.get(k) != v or k not in stored_ids)
        removed = sorted(stored_ids - entries.keys())
        def upsert_entries(batch: list[str]) -> Any:
            return col.upsert(
                ids=[f"doc:{k}" for k in batch],
                embeddings=[[1.0]] * len(batch),
                documents=[entries[k] for k in batch],
                metadatas=[{"kind": "entry", "doc_id": k} for k in batch],
            )

        for i in range(0, len(changed), 500):
            batch = changed[i : i + 500]
            self._call(lambda: upsert_entries(batch))  # noqa: B023 (called at once)
        if removed:
            ids = [f"doc:{k}" for k in removed] + [f"text:{k}" for k in removed]
            self._call(lambda: col.delete(ids=ids))
        header = manifest.header()
        self._call(lambda: col.upsert(
            ids=[self.HEADER_ID],
            embeddings=[[1.0]],
            documents=[json.dumps(header)],
            metadatas=[{"kind": "header", "uid": manifest.uid, "generation": manifest.generation}],
        ))
        self._saved = entries
        self._version, self._checked_at = manifest.version(), time.monotonic()

    def is_newer_than(self, manifest: Manifest) -> bool:
        """True when the server holds another generation; asks at most once a second."""
        now = time.monotonic()
        if now - self._checked_at >= self._check_interval_s:
            col = self._collection()
            got = self._call(lambda: col.get(ids=[self.HEADER_ID], include=["metadatas"]))
            self._checked_at = now
            if got["metadatas"]:
                meta = got["metadatas"][0] or {}
                self._version = (str(meta.get("uid")), int(meta.get("generation", 0)))
            else:
                self._version = None
        return self._version is not None and self._version != manifest.version()

    def save_text(self, doc_id: str, text: str) -> None:
        col = self._collection()
        self._call(lambda: col.upsert(
            ids=[f"text:{doc_id}"], embeddings=[[1.0]], documents=[text],
            metadatas=[{"kind": "text", "doc_id": doc_id}],
        ))

    def load_text(self, doc_id: str) -> str | None:
        col = self._collection()
        got = self._call(lambda: col.get(ids=[f"text:{doc_id}"], include=["documents"]))
        return got["documents"][0] if got["documents"] else None
