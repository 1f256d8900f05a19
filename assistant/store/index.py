"""The index as readers see it: Chroma + BM25 + manifest behind one consistent snapshot.

Retrieval needs three things to agree: the vectors in Chroma, the BM25 index
and the manifest that lists which chunks belong to which document. ``Index``
owns all three and hands readers one snapshot (manifest, BM25, known chunk
ids) that is swapped in a single assignment after an ingest has written
everything, so a question never sees half an ingest. Building the index is
not done here: ``assistant/ingest/pipeline.py`` plans and writes, through the
small write primitives at the end of this class.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import shutil
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.errors import BackendError, IndexStateError, InputError
from assistant.settings import Settings
from assistant.store.chroma import ChromaCaller, open_chroma_client
from assistant.store.lexical import LexicalIndex
from assistant.store.manifest import ChromaManifestStore, Manifest, ManifestFile

if TYPE_CHECKING:
    from assistant.ingest.chunking import Chunk
    from assistant.ingest.documents import Document
    from assistant.models.embeddings import MiniLMEmbeddings

UPSERT_BATCH = 512  # chunks per Chroma upsert: per-call overhead dominates below that (bench/reports)
GET_PAGE = 5000  # ids per Chroma get or delete (SQLite's variable limit)
# Candidates HNSW explores per query. At Chroma's default (100) the same question retrieved
# differently from one process to the next on the news probe (a chunk at rank 18 of 30 in one
# run, outside the 30 in the next: on load, Chroma adds the writes still in its log, 760 of
# that index's 1,791 chunks, to the graph with two threads, so the graph differs between
# processes), and answers and eval figures changed between runs. At 200, five of five runs
# agreed; a query costs well under a millisecond more at these collection sizes.
DENSE_SEARCH_EF = 200
Snapshot = tuple[Manifest, LexicalIndex, frozenset[str]]


@dataclass(frozen=True)
class ChunkHit:
    """A retrieved chunk with its stored metadata and a score."""

    id: str
    text: str
    metadata: dict
    score: float


class Index:
    """Owns the vector store, the lexical index and the manifest.

    Readers (retrieval) see a consistent snapshot: the lexical index and the
    manifest are swapped in one assignment after an ingest has written all of
    its chunks, and Chroma results are filtered to chunk ids the manifest knows.
    """

    def __init__(self, settings: Settings, embeddings: MiniLMEmbeddings, client: Any = None):
        self.settings = settings
        self.embeddings = embeddings
        self._client = client
        self._collection: Any = None
        self._call_chroma = ChromaCaller(settings)
        # Server mode keeps the manifest in the server, so every replica shares it.
        self._manifest_store: ManifestFile | ChromaManifestStore = (
            ChromaManifestStore(self._manifest_collection, self._call_chroma)
            if settings.chroma_url
            else ManifestFile(settings.collection_dir / "manifest.json")
        )
        self._manifest_col: Any = None
        self._snapshot: Snapshot | None = None
        self._lock = threading.RLock()

    # ----- storage -------------------------------------------------------------
    @property
    def collection(self) -> Any:
        """The chunk collection; opens the Chroma client on first use."""
        if self._collection is None:
            with self._lock:
                if self._client is None:
                    self._client = open_chroma_client(self.settings)
                collection = self._call_chroma(
                    lambda: self._client.get_or_create_collection(
                        self.settings.collection,
                        embedding_function=None,
                        metadata={"hnsw:space": "cosine", "hnsw:search_ef": DENSE_SEARCH_EF},
                    )
                )
                self._collection = _searching_widely(collection)
        return self._collection

    def _manifest_collection(self) -> Any:
        if self._manifest_col is None:
            _ = self.collection  # opens the client
            name = ChromaManifestStore.collection_name(self.settings.collection)
            self._manifest_col = self._call_chroma(
                lambda: self._client.get_or_create_collection(name, embedding_function=None)
            )
        return self._manifest_col

    # ----- the snapshot readers see ---------------------------------------------
    def empty_manifest(self) -> Manifest:
        """A manifest with no documents, for the current model and chunk settings."""
        return Manifest(
            embedding_model=self.embeddings.model_name,
            chunk_tokens=self.settings.chunk_tokens,
            chunk_overlap=self.settings.chunk_overlap,
        )

    def manifest(self) -> Manifest:
        """The manifest of the current snapshot (re-read only after another process's ingest)."""
        return self._load_snapshot()[0]

    def _load_snapshot(self) -> Snapshot:
        snapshot = self._snapshot
        if snapshot is not None and self._manifest_store.is_newer_than(snapshot[0]):
            # Another process (or replica) ingested: reload manifest and lexical index.
            with self._lock:
                if self._snapshot is snapshot:
                    self._snapshot = None
            snapshot = None
        if snapshot is None:
            with self._lock:
                if self._snapshot is None:
                    manifest = self._manifest_store.load() or self.empty_manifest()
                    self._snapshot = self._make_snapshot(manifest)
                snapshot = self._snapshot
        return snapshot

    def _make_snapshot(self, manifest: Manifest) -> Snapshot:
        known = frozenset(manifest.chunk_ids())
        folder = self.settings.collection_dir / "lexical"
        # Keyed by the exact chunk set, not only generation:count: a manifest
        # checkpointed mid-ingest (then a crash, or a reader reloading it) has the
        # old generation and often the same count, and must not pick up, or leave
        # behind, a BM25 index of other texts (found by tests/reliability).
        key = f"{manifest.generation_key()}:{_chunk_set_digest(known)}"
        lexical = LexicalIndex.load(folder, key)
        if lexical is None:
            ids, texts = self._all_chunk_texts(known)
            lexical = LexicalIndex.build(ids, texts)
            if self.settings.chroma_url is None or folder.parent.exists():
                folder.parent.mkdir(parents=True, exist_ok=True)
                lexical.save(folder, key)
        return manifest, lexical, known

    def _all_chunk_texts(self, known: frozenset[str]) -> tuple[list[str], list[str]]:
        if not known:
            return [], []
        ids = sorted(known)
        out_ids: list[str] = []
        texts: list[str] = []
        # Pages, because SQLite caps the variables of one statement (32,766): one get
        # of a 100k-chunk index failed with "too many SQL variables" (bench/reports).
        for i in range(0, len(ids), GET_PAGE):
            page = ids[i : i + GET_PAGE]
            got = self._call_chroma(functools.partial(self.collection.get, ids=page, include=["documents"]))
            out_ids.extend(got["ids"])
            texts.extend(got["documents"])
        return out_ids, texts

    def is_empty(self) -> bool:
        """True when no document is indexed."""
        return not self.manifest().documents

    # ----- reading -------------------------------------------------------------
    def document_text(self, doc_id: str) -> str:
        """The full original text of an indexed document (for the source viewer).

        Raises:
            InputError: no document has this id.
            IndexStateError: the document is listed but its text is gone.
        """
        entry = self.manifest().documents.get(doc_id)
        if entry is None:
            raise InputError(f"Unknown document {doc_id!r}; list documents with GET /api/documents.")
        copy = self.settings.collection_dir / "documents" / f"{doc_id}.txt"
        for candidate in (copy, Path(entry.path)):
            try:
                return candidate.read_text(encoding="utf-8-sig")
            except OSError:
                continue
        stored = self._manifest_store.load_text(doc_id)  # ingested by another machine
        if stored is not None:
            return stored
        raise IndexStateError(f"The text of {doc_id!r} is missing from {copy}; re-run ingest.")

    def dense_search(self, vector: list[float], n: int) -> list[ChunkHit]:
        """The ``n`` chunks nearest to ``vector`` (cosine), among chunks of the snapshot."""
        manifest, _, known = self._load_snapshot()
        if not known:
            return []
        res = self._call_chroma(
            lambda: self.collection.query(
                query_embeddings=[vector],
                n_results=min(n, len(known)),
                include=["documents", "metadatas", "distances"],
            )
        )
        hits = []
        for cid, text, meta, dist in zip(
            res["ids"][0], res["documents"][0], res["metadatas"][0], res["distances"][0], strict=True
        ):
            # Ignore chunks of an ingest still in flight, and chunks it deleted during this
            # query (their id comes back without text or metadata: a watcher syncing an edit).
            if cid in known and meta is not None and text is not None:
                hits.append(ChunkHit(cid, text, dict(meta), 1.0 - float(dist)))
        return hits

    def lexical_search(self, query: str, n: int) -> list[tuple[str, float]]:
        """BM25 over the snapshot's chunks: ``(chunk id, score)``, best first."""
        return self._load_snapshot()[1].search(query, n)

    def case_forms(self) -> dict[str, str]:
        """How the snapshot's chunks write their names: lower-case word -> its usual form ("mp" -> "MP")."""
        return self._load_snapshot()[1].case_forms

    def get_chunks(self, ids: list[str]) -> dict[str, ChunkHit]:
        """Stored chunks by id (score 0); ids not stored are left out."""
        if not ids:
            return {}
        res = self._call_chroma(lambda: self.collection.get(ids=list(ids), include=["documents", "metadatas"]))
        return {
            cid: ChunkHit(cid, text, dict(meta), 0.0)
            for cid, text, meta in zip(res["ids"], res["documents"], res["metadatas"], strict=True)
        }

    def count_chunks(self) -> int:
        """Chunks in the current snapshot."""
        return len(self._load_snapshot()[2])

    # ----- writing (called by the ingest pipeline, under its lock) ---------------
    def load_stored_manifest(self) -> Manifest | None:
        """The manifest as stored now (not the snapshot); None when there is none."""
        return self._manifest_store.load()

    def save_manifest(self, manifest: Manifest) -> None:
        """Store ``manifest`` (a checkpoint); readers keep their snapshot until ``publish``."""
        self._manifest_store.save(manifest)

    def publish(self, manifest: Manifest, changed: bool) -> None:
        """Store ``manifest`` and swap the readers' snapshot to it.

        Skipped when nothing changed and readers already hold a snapshot.
        """
        if not changed and self._snapshot is not None:
            return
        self._manifest_store.save(manifest)
        snapshot = self._make_snapshot(manifest)
        with self._lock:
            self._snapshot = snapshot

    def reset_collection(self) -> None:
        """Drop every chunk and the BM25 index (the index is rebuilt from scratch)."""
        _ = self.collection  # ensures the client exists
        try:
            self._call_chroma(lambda: self._client.delete_collection(self.settings.collection))
        except BackendError:
            raise
        except Exception:
            pass  # did not exist
        self._collection = None
        shutil.rmtree(self.settings.collection_dir / "lexical", ignore_errors=True)

    def stored_chunk_ids(self) -> list[str]:
        """Ids of every chunk in Chroma, listed in the manifest or not."""
        return list(self._call_chroma(lambda: self.collection.get(include=[]))["ids"])

    def stored_vectors(self, ids: list[str]) -> dict[str, list[float]]:
        """The stored embeddings of ``ids`` (those that exist)."""
        if not ids:
            return {}
        got = self._call_chroma(lambda: self.collection.get(ids=ids, include=["embeddings"]))
        return {cid: [float(x) for x in emb] for cid, emb in zip(got["ids"], got["embeddings"], strict=True)}

    def write_chunks(self, chunks: list[Chunk], vectors: list[list[float]]) -> None:
        """Upsert ``chunks`` with their ``vectors`` (same order)."""
        for i in range(0, len(chunks), UPSERT_BATCH):
            batch = chunks[i : i + UPSERT_BATCH]
            self._call_chroma(
                functools.partial(
                    self.collection.upsert,
                    ids=[c.id for c in batch],
                    embeddings=vectors[i : i + UPSERT_BATCH],
                    documents=[c.text for c in batch],
                    metadatas=[c.metadata() for c in batch],
                )
            )

    def delete_chunks(self, ids: list[str]) -> None:
        """Delete chunks by id (a page at a time)."""
        for i in range(0, len(ids), GET_PAGE):
            batch = list(ids[i : i + GET_PAGE])
            self._call_chroma(functools.partial(self.collection.delete, ids=batch))

    def save_document_text(self, doc: Document) -> None:
        """Keep the document's full text for the source viewer (atomically; every replica in server mode)."""
        folder = self.settings.collection_dir / "documents"
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{doc.id}.tmp"
        tmp.write_text(doc.text, encoding="utf-8")
        tmp.replace(folder / f"{doc.id}.txt")
        self._manifest_store.save_text(doc.id, doc.text)

    def delete_document_text(self, doc_id: str) -> None:
        """Forget a removed document's kept text (the server copy goes with its manifest entry)."""
        (self.settings.collection_dir / "documents" / f"{doc_id}.txt").unlink(missing_ok=True)


def _chunk_set_digest(ids: frozenset[str]) -> str:
    return hashlib.sha256("\n".join(sorted(ids)).encode()).hexdigest()[:16]


def _searching_widely(collection: Any) -> Any:
    """``collection``, its search breadth raised to ``DENSE_SEARCH_EF`` when it was created
    with less (an index built before that setting; a one-time change of its configuration)."""
    with warnings.catch_warnings():  # Chroma warns that an index without an embedding function is "legacy"
        warnings.simplefilter("ignore", DeprecationWarning)
        config = getattr(collection, "configuration", None)
    hnsw = config.get("hnsw") if isinstance(config, dict) else None
    if isinstance(hnsw, dict) and int(hnsw.get("ef_search") or 0) < DENSE_SEARCH_EF:
        # A read-only index still answers, at the default breadth.
        with contextlib.suppress(Exception):
            collection.modify(configuration={"hnsw": {"ef_search": DENSE_SEARCH_EF}})
    return collection
