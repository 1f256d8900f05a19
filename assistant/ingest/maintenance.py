"""Managing one document of an index: delete it, or have the next ingest redo it.

These write the index, so they take the same ingest lock as the pipeline and
publish a new manifest the same way: readers see the document gone (or
re-indexed) in one step, and a crash leaves chunks the manifest does not list,
which the next ingest removes.
"""

from __future__ import annotations

from pathlib import Path

from assistant.errors import InputError, NotFoundError
from assistant.ingest.pipeline import ingest_lock
from assistant.store.index import Index


def delete_documents(index: Index, doc_ids: list[str]) -> list[str]:
    """Remove ``doc_ids`` (their chunks, text and manifest entries) from ``index``.

    Returns:
        The ids removed.

    Raises:
        NotFoundError: an id is not indexed (nothing is removed then).
    """
    with ingest_lock(index.settings.collection_dir):
        manifest = index.load_stored_manifest() or index.empty_manifest()
        unknown = [d for d in doc_ids if d not in manifest.documents]
        if unknown:
            raise NotFoundError(
                f"Unknown document(s) {', '.join(map(repr, unknown))} in collection {index.settings.collection!r}; "
                "list them with `assistant documents` (or GET /api/documents)."
            )
        for doc_id in doc_ids:
            entry = manifest.documents.pop(doc_id)
            index.delete_chunks(entry.chunk_ids)
            index.delete_document_text(doc_id)
        manifest.generation += 1
        index.publish(manifest, changed=True)
    return list(doc_ids)


def source_path_for_reindex(index: Index, doc_id: str) -> Path:
    """The file ``doc_id`` was read from, marked so the next ingest of it re-parses and re-chunks it.

    Raises:
        NotFoundError: ``doc_id`` is not indexed.
        InputError: its file is gone (delete the document, or restore the file).
    """
    with ingest_lock(index.settings.collection_dir):
        manifest = index.load_stored_manifest() or index.empty_manifest()
        entry = manifest.documents.get(doc_id)
        if entry is None:
            raise NotFoundError(
                f"Unknown document {doc_id!r} in collection {index.settings.collection!r}; "
                "list them with `assistant documents`."
            )
        path = Path(entry.path)
        if not entry.path or not path.is_file():
            raise InputError(
                f"Cannot re-index {doc_id!r}: its file {entry.path or '(none recorded)'} is gone; "
                f"restore it, or delete the document with `assistant documents delete {doc_id}`."
            )
        entry.hash = ""  # the ingest that follows treats it as changed; unchanged chunks keep their vectors
        index.save_manifest(manifest)
    return path
