"""Building the index: plan what to add, update, skip and remove, then write it crash-safely.

Ingest is the only writer of the index, and it is kept apart from the index
readers use (``store/index.py``) so that building reads top to bottom:

1. load the files (refused ones are reported, never fatal);
2. under a cross-process lock (with a Chroma server, also the server's ingest
   lease, ``store/lease.py``, so ingests on other machines wait too), read the
   stored manifest, rebuild from scratch if the model or chunk settings
   changed, and drop chunks a crashed ingest
   wrote but never recorded;
3. plan (``plan_ingest``): which documents are gone, unchanged or new/changed,
   and the chunks of the latter;
4. write: embed ahead across documents (reusing stored vectors of unchanged
   chunks), upsert a window of chunks at a time, record each written document
   in the manifest, checkpoint about once a second;
5. publish the manifest and the readers' snapshot in one step.

A crash at any point leaves chunks that the manifest does not list (removed
by step 2 next time) or documents it lists with their old hash (redone next
time), never a manifest that points at missing chunks.

``run`` loads everything under its paths; ``apply`` loads only the files a
folder watcher saw change (``ingest/watch.py``) and shares steps 2-5 with it.
``ingest/ray_ingest.py`` swaps only where documents are parsed and where
vectors come from (a Ray cluster) and shares the rest: the lock and lease,
the stored manifest, orphan removal, the windowed writes, records, checkpoints
and the publish (``_writing`` and ``_write_embedded``).
A document renamed or moved keeps its vectors either way: chunks of removed
documents are read back before they are deleted, and a new chunk with the same
text reuses the vector instead of being encoded again.
"""

from __future__ import annotations

import fcntl
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Protocol

from assistant.errors import IndexStateError, InputError
from assistant.ingest.chunking import Chunk, chunk_document
from assistant.ingest.documents import (
    SUPPORTED_SUFFIXES,
    Document,
    iter_source_files,
    load_documents,
)
from assistant.store.index import GET_PAGE, Index
from assistant.store.lease import NO_LEASE, IngestLease, ingest_lease
from assistant.store.manifest import DocumentEntry, Manifest

log = logging.getLogger(__name__)

WRITE_BATCH = 512  # chunks per write, across documents (see IngestPipeline._write)
ENCODE_WINDOW = 512  # chunks embedded per encoder call, across documents (see _vectors_ahead)
SAVE_EVERY_S = 1.0  # manifest checkpoint interval during a long ingest
LOCK_WAIT_S = 30.0
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
    chunks_embedded: int = 0  # chunks the encoder ran on (the rest reused stored vectors)
    rebuilt: str | None = None
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data (the CLI's and the HTTP API's ingest output)."""
        return asdict(self)

    def summary(self) -> str:
        """One line for people: what was added, updated, removed, skipped and refused."""
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


@dataclass
class IngestPlan:
    """What an ingest will do, decided before anything is written."""

    remove: list[str] = field(default_factory=list)  # indexed documents whose file is gone
    skip: list[str] = field(default_factory=list)  # same content hash as indexed
    write: list[tuple[Document, list[Chunk]]] = field(default_factory=list)  # new or changed

    @property
    def total_chunks(self) -> int:
        return sum(len(chunks) for _, chunks in self.write)


def plan_ingest(
    manifest: Manifest,
    docs: list[Document],
    roots: list[Path],
    refused: Iterable[str],
    chunk_tokens: int,
    chunk_overlap: int,
) -> IngestPlan:
    """Decide what an ingest of ``docs`` (loaded from ``roots``) does to ``manifest``.

    A document is removed only when its file lay under one of ``roots`` and
    no longer exists; a file that was refused this time keeps its previous,
    valid version. A document whose content hash is unchanged is skipped.

    Args:
        manifest: the index as stored now.
        docs: the documents loaded from ``roots``.
        roots: the files and folders being ingested.
        refused: paths of files that failed to load.
        chunk_tokens: chunk size in tokens.
        chunk_overlap: tokens repeated between consecutive chunks.

    Returns:
        The plan; nothing is written.
    """
    plan = IngestPlan(remove=removed_documents(manifest, {d.id for d in docs}, roots, refused))
    for doc in docs:
        existing = manifest.documents.get(doc.id)
        if existing is not None and existing.hash == doc.content_hash:
            plan.skip.append(doc.id)
        else:
            plan.write.append((doc, chunk_document(doc, chunk_tokens, chunk_overlap)))
    return plan


def removed_documents(
    manifest: Manifest, present: set[str], roots: list[Path], refused: Iterable[str]
) -> list[str]:
    """Indexed documents to remove: not ``present``, and their file lay under ``roots`` and is gone.

    A document whose file was refused this time (``refused`` paths) keeps its
    previous, valid version.
    """
    refused_paths = {Path(p).resolve() for p in refused}
    removed = []
    for doc_id, entry in manifest.documents.items():
        entry_path = Path(entry.path).resolve() if entry.path else None
        if doc_id in present or entry_path is None or entry_path in refused_paths:
            continue
        if any(_is_within(entry_path, root) for root in roots) and not entry_path.exists():
            removed.append(doc_id)
    return removed


class ProgressCounter(Protocol):
    """What the writer tells of each recorded document (``_Progress``, or a Ray ingest's file counter)."""

    def advance(self, chunks: int, doc_id: str) -> None: ...


@dataclass
class _Progress:
    """Chunks written so far, reported to the caller's callback after each document."""

    total: int
    callback: ProgressCallback | None
    done: int = 0

    def advance(self, chunks: int, doc_id: str) -> None:
        self.done += chunks
        if self.callback:
            self.callback(self.done, self.total, doc_id)


class IngestPipeline:
    """Makes an ``Index`` mirror a set of files and folders, incrementally.

    Example:
        >>> report = IngestPipeline(assistant.index).run(["seeds/"])
        >>> report.summary()
    """

    def __init__(self, index: Index) -> None:
        self.index = index
        self.settings = index.settings
        self._lease: IngestLease = NO_LEASE  # the server lease an ingest holds; checked before manifest writes

    def run(self, paths: Iterable[str | Path], progress: ProgressCallback | None = None) -> IngestReport:
        """Add, update and remove documents so the index mirrors ``paths``.

        Args:
            paths: files and folders; documents indexed from under them whose
                files are gone are removed.
            progress: called as ``progress(chunks_done, chunks_total, doc_id)``.

        Returns:
            What was added, updated, removed, skipped and refused.

        Raises:
            InputError: a path does not exist, or no supported file was found.
            IndexStateError: another ingest holds the index for longer than 30 s, or
                (Chroma server) this ingest lost its lease before publishing.
        """
        started = time.perf_counter()
        roots = [Path(p) for p in paths]
        docs, report = self._load(roots)
        self._ingest(docs, roots, report, progress)
        report.seconds = round(time.perf_counter() - started, 3)
        return report

    def apply(
        self,
        changed: Iterable[str | Path],
        deleted: Iterable[str | Path] = (),
        progress: ProgressCallback | None = None,
    ) -> IngestReport:
        """Ingest only ``changed`` files and drop the documents of ``deleted`` paths.

        What a folder watcher calls for a burst of changes: unlike ``run`` it
        never reads the rest of the folder. A changed path that no longer
        exists counts as deleted; a deleted path may be a folder (every
        document indexed from under it whose file is gone is removed). A
        changed file whose document id (its stem) is already indexed from
        another file that still exists is refused, as ``run`` refuses two
        such files in one folder.

        Args:
            changed: files (or folders, loaded whole) added or edited.
            deleted: files or folders that were removed or renamed away.
            progress: called as ``progress(chunks_done, chunks_total, doc_id)``.

        Returns:
            What was added, updated, removed and refused; ``skipped`` lists
            changed files whose content is what the index already has.

        Raises:
            IndexStateError: another ingest holds the index for longer than 30 s, or
                (Chroma server) this ingest lost its lease before publishing.
        """
        started = time.perf_counter()
        present = [Path(p) for p in changed if Path(p).exists()]
        gone = [Path(p) for p in deleted] + [Path(p) for p in changed if not Path(p).exists()]
        docs, errors = load_documents(present, self.settings.max_file_bytes) if present else ([], [])
        report = IngestReport(errors=[{"path": p, "reason": r} for p, r in errors])
        self._ingest(docs, present + gone, report, progress, check_ids=True)
        report.seconds = round(time.perf_counter() - started, 3)
        return report

    def _ingest(
        self,
        docs: list[Document],
        roots: list[Path],
        report: IngestReport,
        progress: ProgressCallback | None,
        check_ids: bool = False,
    ) -> None:
        """Steps 2-5, under the lock: plan against the stored manifest, remove, write, publish."""
        with self._writing(report) as manifest:
            if check_ids:
                docs = _refuse_taken_ids(manifest, docs, report)
            plan = plan_ingest(manifest, docs, roots, (e["path"] for e in report.errors),
                               self.settings.chunk_tokens, self.settings.chunk_overlap)
            reusable = self._removed_vectors(manifest, plan)
            self._remove(manifest, plan.remove, report)
            report.skipped.extend(plan.skip)
            self._write(manifest, plan, report, progress, reusable)

    @contextmanager
    def _writing(self, report: IngestReport) -> Iterator[Manifest]:
        """Hold the lock (and server lease) around a write of the manifest it yields, then publish.

        Steps 2 and 5 of every ingest: the stored manifest (reset when the
        settings changed) with a crashed ingest's orphans dropped, and, when
        the body returns, one publish (a new generation if anything changed).
        An exception in the body publishes nothing: the index keeps its last
        checkpoint, which a re-run resumes from.
        """
        with ingest_lock(self.settings.collection_dir), ingest_lease(self.index) as lease:
            self._lease = lease
            manifest = self._stored_manifest(report)
            self._remove_orphans(manifest)
            yield manifest
            changed = bool(report.added or report.updated or report.removed)
            if changed:
                manifest.generation += 1
            lease.ensure_held("publishing the manifest")
            self.index.publish(manifest, changed)

    def _load(self, roots: list[Path]) -> tuple[list[Document], IngestReport]:
        files, listed = iter_source_files(roots)  # raises on missing paths before any write
        if not files and not listed:
            raise no_files_error(roots)
        docs, errors = load_documents(roots, self.settings.max_file_bytes)
        return docs, IngestReport(errors=[{"path": p, "reason": r} for p, r in errors])

    def _stored_manifest(self, report: IngestReport) -> Manifest:
        """The stored manifest, or an empty one (after a reset) when the settings changed."""
        empty = self.index.empty_manifest()
        manifest = self.index.load_stored_manifest()
        if manifest is not None and manifest.settings_key() != empty.settings_key():
            report.rebuilt = (
                f"index settings changed (model/chunking was {manifest.embedding_model}, "
                f"{manifest.chunk_tokens}/{manifest.chunk_overlap} tokens; now "
                f"{empty.embedding_model}, {empty.chunk_tokens}/{empty.chunk_overlap}): rebuilding from scratch"
            )
            log.warning(report.rebuilt)
            self.index.reset_collection()
            manifest = None
        return manifest or empty

    def _remove_orphans(self, manifest: Manifest) -> None:
        """Drop chunks a crashed ingest wrote but never recorded in the manifest."""
        known = manifest.chunk_ids()
        stored = self.index.stored_chunk_ids()
        orphans = [cid for cid in stored if cid not in known]
        if orphans:
            log.warning("removing %d orphan chunks left by an interrupted ingest", len(orphans))
            self.index.delete_chunks(orphans)
        missing = known - set(stored)
        if missing:
            # A document whose chunks are gone is re-ingested: forget its hash.
            for entry in manifest.documents.values():
                if missing.intersection(entry.chunk_ids):
                    entry.hash = ""

    def _removed_vectors(self, manifest: Manifest, plan: IngestPlan) -> dict[str, list[float]]:
        """Vectors of the chunks about to be removed whose text a planned chunk repeats, by that text.

        Why: a renamed file is a removed document and a new one, and its chunk
        ids (which include the document id) all change; without this every
        chunk of it would be encoded again. Only matching chunks' vectors are
        read, so a large deletion costs texts, not vectors, in memory.
        """
        if not plan.remove or not plan.write:
            return {}
        stored = manifest.chunk_ids()
        wanted = {c.embedding_text() for _, chunks in plan.write for c in chunks if c.id not in stored}
        by_text = self._removed_chunk_texts(manifest, plan.remove, wanted) if wanted else {}
        vectors = self.index.stored_vectors(list(by_text.values()))
        return {text: vectors[cid] for text, cid in by_text.items() if cid in vectors}

    def _removed_chunk_texts(
        self, manifest: Manifest, doc_ids: list[str], wanted: set[str] | None = None
    ) -> dict[str, str]:
        """The chunks of documents ``doc_ids`` by embedding text (those in ``wanted``; all when None).

        Texts and metadata only, a page at a time: vectors are read for the
        matches alone.
        """
        removed = [cid for doc_id in doc_ids for cid in manifest.documents[doc_id].chunk_ids]
        names = {f.name for f in fields(Chunk)}
        by_text: dict[str, str] = {}
        for i in range(0, len(removed), GET_PAGE):
            for cid, hit in self.index.get_chunks(removed[i : i + GET_PAGE]).items():
                # The text the stored vector was computed from, however embedding_text() is defined.
                meta = {k: v for k, v in hit.metadata.items() if k in names}
                text = Chunk(id=cid, text=hit.text, **meta).embedding_text()
                if wanted is None or text in wanted:
                    by_text.setdefault(text, cid)
        return by_text

    def _remove(self, manifest: Manifest, doc_ids: list[str], report: IngestReport) -> None:
        for doc_id in doc_ids:
            chunk_ids = manifest.documents.pop(doc_id).chunk_ids
            self.index.delete_chunks(chunk_ids)
            report.chunks_removed += len(chunk_ids)
            report.removed.append(doc_id)

    def _write(
        self,
        manifest: Manifest,
        plan: IngestPlan,
        report: IngestReport,
        progress: ProgressCallback | None,
        reusable: dict[str, list[float]] | None = None,
    ) -> None:
        """Embed and write the planned documents a window at a time, recording each in the manifest."""
        # Chunk ids are content hashes, so a chunk id already in the manifest has
        # its vector in the store: an edited document re-embeds only what changed.
        embedded = self._embedded(plan.write, manifest.chunk_ids(), reusable or {}, report)
        self._write_embedded(manifest, embedded, report, _Progress(plan.total_chunks, progress))

    def _embedded(
        self,
        planned: list[tuple[Document, list[Chunk]]],
        stored: set[str],
        reusable: dict[str, list[float]],
        report: IngestReport,
    ) -> Iterator[tuple[Document, list[Chunk], list[list[float]]]]:
        """Each planned document with its chunks' vectors, encoded a window ahead (``_vectors_ahead``)."""
        ahead: dict[str, list[float]] = {}
        for n, (doc, chunks) in enumerate(planned):
            if any(c.id not in ahead for c in chunks):
                ahead.update(self._vectors_ahead(planned[n:], stored, reusable, report))
            yield doc, chunks, [ahead.pop(c.id) for c in chunks]

    def _write_embedded(
        self,
        manifest: Manifest,
        embedded: Iterable[tuple[Document, list[Chunk], list[list[float]]]],
        report: IngestReport,
        counter: ProgressCounter,
    ) -> None:
        """Write documents with their vectors a window at a time, recording each; checkpoint ~1/s.

        ``counter.advance(chunks, doc_id)`` is told of each recorded document.
        """
        last_save = time.monotonic()
        # Chunks are written to Chroma a window at a time, across documents: one
        # upsert per document (a dozen chunks) cost 4-5 s per 1,000 chunks in
        # per-call overhead, one per 512 chunks ~1 s (bench/reports).
        batch: list[tuple[Document, list[Chunk]]] = []
        vectors: list[list[float]] = []
        for doc, chunks, doc_vectors in embedded:
            batch.append((doc, chunks))
            vectors.extend(doc_vectors)
            if len(vectors) < WRITE_BATCH:
                continue
            self._write_batch(manifest, batch, vectors, report, counter)
            batch, vectors = [], []
            # Record finished documents about once a second, so a crash loses at most
            # that much work (its chunks are orphans the next ingest removes).
            # Saving after every document rewrote the whole manifest each time:
            # quadratic in the corpus, ~10% of a fake-encoder ingest (bench/reports).
            if time.monotonic() - last_save >= SAVE_EVERY_S:
                self._lease.ensure_held("checkpointing the manifest")
                self.index.save_manifest(manifest)
                last_save = time.monotonic()
        if batch:
            self._write_batch(manifest, batch, vectors, report, counter)

    def _write_batch(
        self,
        manifest: Manifest,
        batch: list[tuple[Document, list[Chunk]]],
        vectors: list[list[float]],
        report: IngestReport,
        counter: ProgressCounter,
    ) -> None:
        # Chunks first, manifest entries after: an entry never points at chunks not yet written.
        self.index.write_chunks([c for _, chunks in batch for c in chunks], vectors)
        for doc, chunks in batch:
            self._record(manifest, doc, chunks, report)
            counter.advance(len(chunks), doc.id)

    def _record(self, manifest: Manifest, doc: Document, chunks: list[Chunk], report: IngestReport) -> None:
        """Enter a document whose chunks are written; drop the chunks its old version had and this one lacks."""
        old = manifest.documents.get(doc.id)
        if old is not None:
            stale = sorted(set(old.chunk_ids) - {c.id for c in chunks})
            self.index.delete_chunks(stale)
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
        self.index.save_document_text(doc)
        report.chunks_added += len(chunks)

    def _vectors_ahead(
        self,
        planned: list[tuple[Document, list[Chunk]]],
        stored: set[str],
        reusable: dict[str, list[float]],
        report: IngestReport,
    ) -> dict[str, list[float]]:
        """Vectors for the next ``ENCODE_WINDOW`` chunks of the plan, across documents.

        Why across documents: a document is a dozen chunks of very different
        lengths, and encoding each alone pads every batch to its longest chunk.
        One call over many documents lets the encoder sort by length
        (sentence-transformers and our ONNX encoder both do) so batches pad
        little. Chunks already stored (same content hash) reuse their vector,
        and so do chunks repeating the text of a removed document's chunk
        (``reusable``, by embedding text: a renamed file).
        """
        window: list[Chunk] = []
        for _, chunks in planned:
            window.extend(chunks)
            if len(window) >= ENCODE_WINDOW:
                break
        vectors = self.index.stored_vectors([c.id for c in window if c.id in stored])
        for c in window:
            if c.id not in vectors and c.embedding_text() in reusable:
                vectors[c.id] = reusable[c.embedding_text()]
        fresh = [c for c in window if c.id not in vectors]
        if fresh:
            encoded = self.index.embeddings.encode([c.embedding_text() for c in fresh])
            vectors.update({c.id: v for c, v in zip(fresh, encoded, strict=True)})
            report.chunks_embedded += len(fresh)
        return vectors


@contextmanager
def ingest_lock(index_dir: Path, wait_s: float = LOCK_WAIT_S) -> Iterator[None]:
    """Hold the index folder's ingest lock (one writer across processes).

    Raises:
        IndexStateError: another ingest held it for longer than ``wait_s``.
    """
    index_dir.mkdir(parents=True, exist_ok=True)
    with open(index_dir / ".ingest.lock", "w") as fh:
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise IndexStateError(
                        f"Another ingest is writing to {index_dir} and did not "
                        f"finish within {wait_s:.0f}s; wait for it to end, then retry."
                    ) from None
                time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def no_files_error(roots: list[Path]) -> InputError:
    """The error for paths that hold no supported file (and no refused one either)."""
    return InputError(
        f"No supported files ({', '.join(SUPPORTED_SUFFIXES)}) found in {', '.join(map(str, roots))}; "
        "add documents or pass another folder."
    )


def _refuse_taken_ids(manifest: Manifest, docs: list[Document], report: IngestReport) -> list[Document]:
    """``docs`` less those whose id is indexed from another file that still exists (refused, named)."""
    kept = []
    for doc in docs:
        entry = manifest.documents.get(doc.id)
        other = Path(entry.path) if entry is not None and entry.path else None
        if other is not None and other != Path(doc.path).resolve() and other.exists():
            report.errors.append({"path": doc.path, "reason": (
                f"duplicate document id {doc.id!r} (also {other}); rename one file"
            )})
            continue
        kept.append(doc)
    return kept


def _is_within(path: Path, root: Path) -> bool:
    root = root.resolve()
    return path == root or root in path.parents
