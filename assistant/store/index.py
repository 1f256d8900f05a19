"""The index: Chroma (embedded or server) + BM25 + manifest, ingested incrementally."""

from __future__ import annotations

import fcntl
import functools
import hashlib
import logging
import shutil
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from assistant.errors import BackendError, IndexStateError, InputError
from assistant.ingest.chunking import Chunk, chunk_document
from assistant.ingest.documents import (
    SUPPORTED_SUFFIXES,
    Document,
    iter_source_files,
    load_documents,
)
from assistant.models.embeddings import MiniLMEmbeddings
from assistant.settings import Settings
from assistant.store.lexical import LexicalIndex
from assistant.store.manifest import ChromaManifestStore, DocumentEntry, Manifest, ManifestFile

log = logging.getLogger(__name__)

WRITE_BATCH = 512  # chunks per Chroma upsert (see _apply)
ENCODE_WINDOW = 512  # chunks embedded per encoder call, across documents (see _vectors_ahead)
SAVE_EVERY_S = 1.0  # manifest checkpoint interval during a long ingest
GET_PAGE = 5000  # ids per Chroma get (SQLite's variable limit)
CHROMA_RETRIES = 2
CHROMA_BACKOFF_S = 0.3
ProgressCallback = Callable[[int, int, str], None]


@dataclass
class IngestReport:
    """What an ingest did; counts are lists of document ids."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    errors: list[dict[str, str]] = field(default_factory=list)
    chunks_added: int = 0
    chunks_removed: int = 0
    rebuilt: str | None = None
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        parts = [
            f"added {len(self.added)}",
            f"updated {len(self.updated)}",
            f"removed {len(self.removed)}",
            f"skipped {len(self.skipped)} unchanged",
            f"{self.chunks_added} chunks written",
            f"{len(self.errors)} refused",
            f"in {self.seconds:.2f}s",
        ]
        return ", ".join(parts)


@dataclass(frozen=True)
class ChunkHit:
    """A retrieved chunk with its stored metadata and a score."""

    id: str
    text: str
    metadata: dict
    score: float


def open_chroma_client(settings: Settings):
    """Embedded persistent client, or an HTTP client when ``chroma_url`` is set.

    The HTTP client gets a timeout on every request (chromadb's default is
    none, so a stalled server would hang a question forever), and the server
    is probed first so a wrong URL fails in seconds with a clear message.

    Raises:
        BackendError: the server cannot be reached or rejects the token.
    """
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    if settings.chroma_url:
        import httpx

        url = urlparse(settings.chroma_url)
        headers = {}
        if settings.chroma_token:
            headers["Authorization"] = f"Bearer {settings.chroma_token.get_secret_value()}"
        timeout = httpx.Timeout(settings.chroma_timeout_s, connect=min(5.0, settings.chroma_timeout_s))
        base = settings.chroma_url.rstrip("/")
        last: Exception | None = None
        for attempt in range(CHROMA_RETRIES + 1):
            try:
                httpx.get(f"{base}/api/v2/heartbeat", headers=headers, timeout=timeout).raise_for_status()
                client = chromadb.HttpClient(
                    host=url.hostname or "127.0.0.1",
                    port=url.port or (443 if url.scheme == "https" else 8000),
                    ssl=url.scheme == "https",
                    headers=headers,
                    settings=chroma_settings,
                )
                _set_http_timeout(client, timeout)
                return client
            except Exception as exc:
                last = exc
                if not _is_connection_error(exc) or attempt == CHROMA_RETRIES:
                    break
                time.sleep(CHROMA_BACKOFF_S * 2**attempt)
        raise BackendError(
            f"Cannot reach the Chroma server at ASSISTANT_CHROMA_URL={settings.chroma_url}: "
            f"{type(last).__name__}: {last}. Start it (`chroma run --path DIR --host HOST --port N`), "
            "fix the URL or ASSISTANT_CHROMA_TOKEN, or unset ASSISTANT_CHROMA_URL for the embedded store."
        ) from None
    path = settings.index_dir / "chroma"
    path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(path), settings=chroma_settings)


def _set_http_timeout(client: Any, timeout: Any) -> None:
    """Give chromadb's HTTP session (``timeout=None`` upstream) a real timeout."""
    session = getattr(getattr(client, "_server", None), "_session", None)
    if session is not None:
        session.timeout = timeout


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
        # Server mode keeps the manifest in the server, so every replica shares it.
        self._manifest_store: ManifestFile | ChromaManifestStore = (
            ChromaManifestStore(self._manifest_collection, self._call_chroma)
            if settings.chroma_url
            else ManifestFile(settings.index_dir / "manifest.json")
        )
        self._manifest_col: Any = None
        self._snapshot: tuple[Manifest, LexicalIndex, frozenset[str]] | None = None
        self._lock = threading.RLock()

    # ----- storage -------------------------------------------------------------
    @property
    def collection(self):
        if self._collection is None:
            with self._lock:
                if self._client is None:
                    self._client = open_chroma_client(self.settings)
                self._collection = self._call_chroma(
                    lambda: self._client.get_or_create_collection(
                        self.settings.collection,
                        embedding_function=None,
                        metadata={"hnsw:space": "cosine"},
                    )
                )
        return self._collection

    def _manifest_collection(self) -> Any:
        if self._manifest_col is None:
            _ = self.collection  # opens the client
            name = ChromaManifestStore.collection_name(self.settings.collection)
            self._manifest_col = self._call_chroma(
                lambda: self._client.get_or_create_collection(name, embedding_function=None)
            )
        return self._manifest_col

    def _call_chroma(self, fn: Callable[[], Any], retries: int | None = None) -> Any:
        """Run one Chroma call; retry what is transient, then raise a ``BackendError``."""
        retries = CHROMA_RETRIES if retries is None else retries
        for attempt in range(retries + 1):
            try:
                return fn()
            except (InputError, IndexStateError, BackendError):
                raise
            except Exception as exc:
                if not _is_connection_error(exc):
                    raise
                if attempt == retries:
                    if self.settings.chroma_url:
                        raise BackendError(
                            f"The Chroma server at ASSISTANT_CHROMA_URL={self.settings.chroma_url} "
                            f"failed after {attempt + 1} attempts: {type(exc).__name__}: {exc}. "
                            "Check that it is running and reachable (`chroma run --path DIR --host "
                            "HOST --port N`), then retry; or unset ASSISTANT_CHROMA_URL."
                        ) from None
                    raise BackendError(
                        f"The embedded Chroma store in {self.settings.index_dir} failed: "
                        f"{type(exc).__name__}: {exc}. Check the disk, then retry."
                    ) from None
                log.warning("Chroma call failed (%s: %s); retry %d/%d", type(exc).__name__, exc,
                            attempt + 1, retries)
                time.sleep(CHROMA_BACKOFF_S * 2**attempt)
        raise AssertionError("unreachable")

    def empty_manifest(self) -> Manifest:
        return Manifest(
            embedding_model=self.embeddings.model_name,
            chunk_tokens=self.settings.chunk_tokens,
            chunk_overlap=self.settings.chunk_overlap,
        )

    def manifest(self) -> Manifest:
        return self._load_snapshot()[0]

    def _load_snapshot(self) -> tuple[Manifest, LexicalIndex, frozenset[str]]:
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

    def _make_snapshot(self, manifest: Manifest) -> tuple[Manifest, LexicalIndex, frozenset[str]]:
        known = frozenset(cid for entry in manifest.documents.values() for cid in entry.chunk_ids)
        folder = self.settings.index_dir / "lexical"
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
        return not self.manifest().documents

    # ----- ingest --------------------------------------------------------------
    @contextmanager
    def _ingest_lock(self, wait_s: float = 30.0) -> Iterator[None]:
        self.settings.index_dir.mkdir(parents=True, exist_ok=True)
        lock_path = self.settings.index_dir / ".ingest.lock"
        with open(lock_path, "w") as fh:
            deadline = time.monotonic() + wait_s
            while True:
                try:
                    fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise IndexStateError(
                            f"Another ingest is writing to {self.settings.index_dir} and did not "
                            f"finish within {wait_s:.0f}s; wait for it to end, then retry."
                        ) from None
                    time.sleep(0.2)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def ingest(self, paths: Iterable[str | Path], progress: ProgressCallback | None = None) -> IngestReport:
        """Add, update and remove documents so the index mirrors ``paths``.

        Raises:
            InputError: a path does not exist, or no supported file was found.
        """
        started = time.perf_counter()
        roots = [Path(p) for p in paths]
        files, _ = iter_source_files(roots)  # raises on missing paths before any write
        docs, errors = load_documents(roots, self.settings.max_file_bytes)
        if not files and not errors:
            raise InputError(
                f"No supported files ({', '.join(SUPPORTED_SUFFIXES)}) found in {', '.join(map(str, roots))}; "
                "add documents or pass another folder."
            )
        report = IngestReport(errors=[{"path": p, "reason": r} for p, r in errors])
        with self._ingest_lock():
            manifest = self._manifest_store.load()
            if manifest is not None and manifest.settings_key() != self.empty_manifest().settings_key():
                report.rebuilt = (
                    f"index settings changed (model/chunking was {manifest.embedding_model}, "
                    f"{manifest.chunk_tokens}/{manifest.chunk_overlap} tokens; now "
                    f"{self.embeddings.model_name}, {self.settings.chunk_tokens}/"
                    f"{self.settings.chunk_overlap}): rebuilding from scratch"
                )
                log.warning(report.rebuilt)
                self._reset_collection()
                manifest = None
            manifest = manifest or self.empty_manifest()
            self._remove_orphans(manifest)
            self._apply(manifest, docs, roots, report, progress)
        report.seconds = round(time.perf_counter() - started, 3)
        return report

    def _reset_collection(self) -> None:
        try:
            self._call_chroma(lambda: self._client_for_reset().delete_collection(self.settings.collection))
        except BackendError:
            raise
        except Exception:
            pass  # did not exist
        self._collection = None
        shutil.rmtree(self.settings.index_dir / "lexical", ignore_errors=True)

    def _client_for_reset(self):
        _ = self.collection  # ensures the client exists
        return self._client

    def _remove_orphans(self, manifest: Manifest) -> None:
        """Drop chunks a crashed ingest wrote but never recorded in the manifest."""
        known = {cid for e in manifest.documents.values() for cid in e.chunk_ids}
        stored = self._call_chroma(lambda: self.collection.get(include=[]))["ids"]
        orphans = [cid for cid in stored if cid not in known]
        if orphans:
            log.warning("removing %d orphan chunks left by an interrupted ingest", len(orphans))
            for i in range(0, len(orphans), 5000):
                batch = orphans[i : i + 5000]
                self._call_chroma(functools.partial(self.collection.delete, ids=batch))
        missing = known - set(stored)
        if missing:
            # A document whose chunks are gone is re-ingested: forget its hash.
            for entry in manifest.documents.values():
                if missing.intersection(entry.chunk_ids):
                    entry.hash = ""

    def _apply(
        self,
        manifest: Manifest,
        docs: list[Document],
        roots: list[Path],
        report: IngestReport,
        progress: ProgressCallback | None,
    ) -> None:
        present = {d.id for d in docs}
        refused = {Path(e["path"]).resolve() for e in report.errors}
        for doc_id, entry in list(manifest.documents.items()):
            entry_path = Path(entry.path).resolve() if entry.path else None
            if doc_id in present or entry_path is None or entry_path in refused:
                continue  # a refused file keeps its previous, valid version
            if any(_is_within(entry_path, root) for root in roots) and not entry_path.exists():
                self._delete_chunks(entry.chunk_ids)
                report.chunks_removed += len(entry.chunk_ids)
                del manifest.documents[doc_id]
                report.removed.append(doc_id)
        todo = []
        for doc in docs:
            existing = manifest.documents.get(doc.id)
            if existing is not None and existing.hash == doc.content_hash:
                report.skipped.append(doc.id)
            else:
                todo.append(doc)
        total_chunks = 0
        planned = []
        for doc in todo:
            chunks = chunk_document(doc, self.settings.chunk_tokens, self.settings.chunk_overlap)
            planned.append((doc, chunks))
            total_chunks += len(chunks)
        done = 0
        # Chunk ids are content hashes, so a chunk id already in the manifest has
        # its vector in the store: an edited document re-embeds only what changed.
        stored = {cid for entry in manifest.documents.values() for cid in entry.chunk_ids}
        ahead: dict[str, list[float]] = {}
        last_save = time.monotonic()
        # Chunks are written to Chroma a window at a time, across documents: one
        # upsert per document (a dozen chunks) cost 4-5 s per 1,000 chunks in
        # per-call overhead, one per 512 chunks ~1 s (bench/reports).
        batch: list[tuple[Document, list[Chunk]]] = []
        vectors: list[list[float]] = []
        for n, (doc, chunks) in enumerate(planned):
            if any(c.id not in ahead for c in chunks):
                ahead.update(self._vectors_ahead(planned[n:], stored))
            batch.append((doc, chunks))
            vectors.extend(ahead.pop(c.id) for c in chunks)
            if len(vectors) < WRITE_BATCH and n + 1 < len(planned):
                continue
            self._write_chunks([c for _, cs in batch for c in cs], vectors)
            for written_doc, written_chunks in batch:
                self._record(manifest, written_doc, written_chunks, report)
                done += len(written_chunks)
                if progress:
                    progress(done, total_chunks, written_doc.id)
            batch, vectors = [], []
            # Record finished documents about once a second, so a crash loses at most
            # that much work (its chunks are orphans the next ingest removes).
            # Saving after every document rewrote the whole manifest each time:
            # quadratic in the corpus, ~10% of a fake-encoder ingest (bench/reports).
            if len(planned) > 1 and time.monotonic() - last_save >= SAVE_EVERY_S:
                self._manifest_store.save(manifest)
                last_save = time.monotonic()
        if report.added or report.updated or report.removed or self._snapshot is None:
            manifest.generation += 1 if (report.added or report.updated or report.removed) else 0
            self._manifest_store.save(manifest)
            snapshot = self._make_snapshot(manifest)
            with self._lock:
                self._snapshot = snapshot

    def _record(self, manifest: Manifest, doc: Document, chunks: list[Chunk], report: IngestReport) -> None:
        """Enter a document whose chunks are written; drop the chunks its old version had and this one lacks."""
        old = manifest.documents.get(doc.id)
        if old is not None:
            stale = sorted(set(old.chunk_ids) - {c.id for c in chunks})
            self._delete_chunks(stale)
            report.chunks_removed += len(stale)
            report.updated.append(doc.id)
        else:
            report.added.append(doc.id)
        manifest.documents[doc.id] = DocumentEntry(
            hash=doc.content_hash,
            path=str(Path(doc.path).resolve()) if doc.path else "",
            title=doc.title,
            chunk_ids=[c.id for c in chunks],
            sections=doc.sections,
            metadata=doc.metadata,
        )
        self._save_document_text(doc)
        report.chunks_added += len(chunks)

    def _vectors_ahead(self, planned: list[tuple[Document, list[Chunk]]], stored: set[str]) -> dict[str, list[float]]:
        """Vectors for the next ``ENCODE_WINDOW`` chunks of the plan, across documents.

        Why across documents: a document is a dozen chunks of very different
        lengths, and encoding each alone pads every batch to its longest chunk.
        One call over many documents lets the encoder sort by length
        (sentence-transformers and our ONNX encoder both do) so batches pad
        little. Chunks already stored (same content hash) reuse their vector.
        """
        window: list[Chunk] = []
        for _, chunks in planned:
            window.extend(chunks)
            if len(window) >= ENCODE_WINDOW:
                break
        vectors: dict[str, list[float]] = {}
        reuse = [c.id for c in window if c.id in stored]
        if reuse:
            got = self._call_chroma(lambda: self.collection.get(ids=reuse, include=["embeddings"]))
            vectors = {cid: [float(x) for x in emb] for cid, emb in zip(got["ids"], got["embeddings"], strict=True)}
        fresh = [c for c in window if c.id not in vectors]
        if fresh:
            encoded = self.embeddings.encode([c.embedding_text() for c in fresh])
            vectors.update({c.id: v for c, v in zip(fresh, encoded, strict=True)})
        return vectors

    def _write_chunks(self, chunks: list[Chunk], vectors: list[list[float]]) -> None:
        for i in range(0, len(chunks), WRITE_BATCH):
            batch = chunks[i : i + WRITE_BATCH]
            self._call_chroma(
                functools.partial(
                    self.collection.upsert,
                    ids=[c.id for c in batch],
                    embeddings=vectors[i : i + WRITE_BATCH],
                    documents=[c.text for c in batch],
                    metadatas=[c.metadata() for c in batch],
                )
            )

    def _delete_chunks(self, ids: list[str]) -> None:
        if ids:
            self._call_chroma(lambda: self.collection.delete(ids=list(ids)))

    def _save_document_text(self, doc: Document) -> None:
        folder = self.settings.index_dir / "documents"
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{doc.id}.tmp"
        tmp.write_text(doc.text, encoding="utf-8")
        tmp.replace(folder / f"{doc.id}.txt")
        self._manifest_store.save_text(doc.id, doc.text)  # server mode: for every replica

    # ----- reading -------------------------------------------------------------
    def document_text(self, doc_id: str) -> str:
        """The full original text of an indexed document (for the source viewer)."""
        entry = self.manifest().documents.get(doc_id)
        if entry is None:
            raise InputError(f"Unknown document {doc_id!r}; list documents with GET /api/documents.")
        copy = self.settings.index_dir / "documents" / f"{doc_id}.txt"
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
            if cid in known:  # ignore chunks of an ingest still in flight
                hits.append(ChunkHit(cid, text, dict(meta), 1.0 - float(dist)))
        return hits

    def lexical_search(self, query: str, n: int) -> list[tuple[str, float]]:
        return self._load_snapshot()[1].search(query, n)

    def get_chunks(self, ids: list[str]) -> dict[str, ChunkHit]:
        if not ids:
            return {}
        res = self._call_chroma(lambda: self.collection.get(ids=list(ids), include=["documents", "metadatas"]))
        return {
            cid: ChunkHit(cid, text, dict(meta), 0.0)
            for cid, text, meta in zip(res["ids"], res["documents"], res["metadatas"], strict=True)
        }

    def count_chunks(self) -> int:
        return len(self._load_snapshot()[2])


def _chunk_set_digest(ids: frozenset[str]) -> str:
    return hashlib.sha256("\n".join(sorted(ids)).encode()).hexdigest()[:16]


def _is_within(path: Path, root: Path) -> bool:
    root = root.resolve()
    return path == root or root in path.parents


def _is_connection_error(exc: Exception) -> bool:
    """Transient failures worth a retry: network errors, timeouts, HTTP 5xx/429."""
    names = {cls.__name__ for cls in type(exc).__mro__}
    if names & {"TransportError", "TimeoutException", "ConnectionError", "TimeoutError",
                "InternalError", "RemoteProtocolError"}:
        return True
    status = getattr(getattr(exc, "response", None), "status_code", None)
    if isinstance(status, int) and (status >= 500 or status == 429):
        return True
    text = f"{type(exc).__name__} {exc}".lower()
    return any(
        marker in text
        for marker in ("connect", "timeout", "timed out", "refused", "unavailable", "503", "502", "reset")
    )
