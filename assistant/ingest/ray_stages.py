"""What a Ray ingest runs on its workers: read, hash, parse and chunk a file; embed chunks.

Plain functions and one callable class over column batches (``dict`` of
arrays or lists, Ray Data's "numpy" batch format), so they run, and are
tested, without Ray. ``ray_ingest.py`` wires them into a Ray Data pipeline
and writes what comes back through the single-process pipeline's writer.

Each stage keeps the single-process semantics exactly:

- a file is read with the same functions (``read_plain_text``,
  ``read_document``), so a refused file is refused with the same message;
- its content hash is taken before parsing, and a file whose hash the
  manifest already has is skipped without being parsed or chunked;
- chunks come from the same ``parse_document`` and ``chunk_document``, so
  ids, texts and offsets are identical;
- a chunk whose vector is already stored (same id in the document's manifest
  entry, or the same text as a chunk of a removed document: a rename) is not
  encoded; the driver reads its vector from the store.

A parsed document travels between stages pickled in one ``payload`` column:
its blocks and metadata (dates, PDF page spans, questions) are nested and
heterogeneous, which an Arrow schema would have to spell out; the payload
only ever passes between processes running this same code.
"""

from __future__ import annotations

import hashlib
import os
import pickle
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from assistant.errors import InputError
from assistant.ingest.chunking import Chunk, chunk_document
from assistant.ingest.documents import Document, parse_document, read_document, read_plain_text
from assistant.ingest.formats import FORMAT_SUFFIXES

# What the parse stage says of a file.
SKIP = "skip"  # content hash unchanged: nothing to write
WRITE = "write"  # new or changed: parsed, chunked, in ``payload``
REFUSED = "refused"  # could not be loaded; ``reason`` says why, as load_documents would
MISSING = "missing"  # the worker found no file at the path (gone, or not on this node's disk)


def text_key(text: str) -> str:
    """A short key for an embedding text (a set of these travels to every parse task)."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


@dataclass
class ParsedFile:
    """A new or changed document, its chunks, and which of them need the encoder."""

    doc: Document
    chunks: list[Chunk]
    encode: list[int] = field(default_factory=list)  # indices into ``chunks``


def file_rows(
    files: Sequence[Path], hashes: dict[str, str], stored: dict[str, list[str]]
) -> list[dict[str, Any]]:
    """The parse stage's input: one row per listed file, in listing order.

    Args:
        files: the files as listed (relative paths stay relative: they name
            the file in documents and messages exactly as a local ingest does).
        hashes: content hash per indexed document id (the stored manifest's).
        stored: chunk ids per document id whose vectors are in the store.
    """
    from assistant.ingest.documents import document_id_for

    rows = []
    for order, path in enumerate(files):
        doc_id = document_id_for(path)
        rows.append({
            "order": order,
            "path": str(path),
            "abs_path": str(path.resolve()),
            "doc_id": doc_id,
            "old_hash": hashes.get(doc_id, ""),
            "stored_ids": " ".join(stored.get(doc_id, ())),
        })
    return rows


def parse_files(
    batch: dict[str, Any],
    max_bytes: int,
    chunk_tokens: int,
    chunk_overlap: int,
    driver_cwd: str,
    reused_texts: frozenset[str] = frozenset(),
) -> dict[str, list[Any]]:
    """Read, hash and (when changed) parse and chunk each file of ``batch`` (rows of ``file_rows``).

    Args:
        batch: columns of ``file_rows``.
        max_bytes: the largest file accepted (``Settings.max_file_bytes``).
        chunk_tokens: chunk size in tokens.
        chunk_overlap: tokens repeated between consecutive chunks.
        driver_cwd: the driver's working folder. A worker elsewhere (another
            node, another folder) opens a relative path from there.
        reused_texts: ``text_key`` of each removed chunk's embedding text; a
            chunk repeating one reuses its stored vector and is not encoded.

    Returns:
        Columns ``order``, ``path``, ``doc_id``, ``status`` (``SKIP``,
        ``WRITE``, ``REFUSED``, ``MISSING``), ``reason``, ``hash``, ``chunks``
        (how many) and ``payload`` (a pickled ``ParsedFile`` for ``WRITE``).
    """
    out: dict[str, list[Any]] = {k: [] for k in ("order", "path", "doc_id", "status", "reason", "hash", "chunks", "payload")}
    here = os.getcwd() == driver_cwd
    for i in range(len(batch["order"])):
        path = str(batch["path"][i])
        opened = Path(path if here or os.path.isabs(path) else str(batch["abs_path"][i]))
        status, reason, digest, parsed = _parse_one(
            opened, str(batch["doc_id"][i]), str(batch["old_hash"][i]), set(str(batch["stored_ids"][i]).split()),
            max_bytes, chunk_tokens, chunk_overlap, reused_texts,
        )
        if parsed is not None:
            parsed.doc.path = path  # as listed, as load_documents records it
        out["order"].append(int(batch["order"][i]))
        out["path"].append(path)
        out["doc_id"].append(str(batch["doc_id"][i]))
        out["status"].append(status)
        out["reason"].append(reason.replace(str(opened), path) if opened != Path(path) else reason)
        out["hash"].append(digest)
        out["chunks"].append(len(parsed.chunks) if parsed else 0)
        out["payload"].append(pickle.dumps(parsed, protocol=pickle.HIGHEST_PROTOCOL) if parsed else b"")
    return out


def _parse_one(
    path: Path,
    doc_id: str,
    old_hash: str,
    stored_ids: set[str],
    max_bytes: int,
    chunk_tokens: int,
    chunk_overlap: int,
    reused_texts: frozenset[str],
) -> tuple[str, str, str, ParsedFile | None]:
    """One file as (status, reason, content hash, parsed file or None)."""
    try:
        doc: Document | None = None
        if path.suffix.lower() in FORMAT_SUFFIXES:
            doc = read_document(path, doc_id, max_bytes)  # the hash is of the extracted text
            text = doc.text
        else:
            text = read_plain_text(path, max_bytes)
    except FileNotFoundError as exc:
        return MISSING, f"cannot read: {exc.strerror or exc}", "", None
    except InputError as exc:
        return REFUSED, str(exc), "", None
    except OSError as exc:
        return REFUSED, f"cannot read: {exc.strerror or exc}", "", None
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()  # Document.content_hash, before parsing
    if digest == old_hash:
        return SKIP, "", digest, None
    doc = doc or parse_document(text, doc_id, str(path))
    chunks = chunk_document(doc, chunk_tokens, chunk_overlap)
    encode = [
        n for n, c in enumerate(chunks)
        if c.id not in stored_ids and text_key(c.embedding_text()) not in reused_texts
    ]
    return WRITE, "", digest, ParsedFile(doc, chunks, encode)


class EmbedChunks:
    """The embedding stage: one encoder per actor, loaded once, fed chunks across documents.

    Why across documents: as in ``IngestPipeline._vectors_ahead``, one call
    over a batch of documents lets the encoder sort chunks by length so its
    batches pad little.

    Args:
        make_encoder: builds the encoder (a LangChain ``Embeddings`` with
            ``encode`` and ``model_name``); called once, in the actor.
    """

    def __init__(self, make_encoder: Callable[[], Any]) -> None:
        self.encoder = make_encoder()

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        """``batch`` (the parse stage's columns) plus ``vectors`` (pickled float32 rows per
        ``ParsedFile.encode``), ``embedded`` (chunks encoded) and ``encoder`` (its model name)."""
        parsed: list[ParsedFile | None] = [pickle.loads(p) if len(p) else None for p in batch["payload"]]
        texts = [f.chunks[n].embedding_text() for f in parsed if f is not None for n in f.encode]
        encoded = np.asarray(self.encoder.encode(texts), dtype=np.float32) if texts else np.zeros((0, 0), np.float32)
        vectors, embedded, start = [], [], 0
        for f in parsed:
            count = len(f.encode) if f is not None else 0
            rows = encoded[start : start + count]
            start += count
            vectors.append(pickle.dumps(rows, protocol=pickle.HIGHEST_PROTOCOL) if count else b"")
            embedded.append(count)
        out = {k: list(v) for k, v in batch.items()}
        out["vectors"] = vectors
        out["embedded"] = embedded
        out["encoder"] = [str(self.encoder.model_name)] * len(parsed)
        return out


@dataclass
class IndexEncoderFactory:
    """Builds the chunk index's encoder on a worker, from the settings that choose it.

    Only the settings travel (secrets unrelated to encoding removed; an
    embeddings server's key stays), not an encoder: each actor loads its own
    model once.
    """

    settings: Any

    def __call__(self) -> Any:
        # The in-process encoder of settings.index_backend, or a client of the embeddings
        # server(s) ASSISTANT_EMBEDDINGS_URL names: each actor then sends its batches there.
        from assistant.models.embeddings import get_index_embeddings

        return get_index_embeddings(self.settings)
