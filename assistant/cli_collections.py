"""``assistant collections`` and ``assistant documents``: named collections and their documents.

A thin click layer over ``Assistant.collections`` and the document methods of
``Assistant`` (the same checks and messages as the HTTP API). Registered on
``assistant.cli.main``; ``cli`` is looked up when a command runs, as in
``cli_conversations``.
"""

from __future__ import annotations

import json
from functools import wraps

import click

from assistant.settings import RetrievalMode
from assistant.store.collections import CollectionInfo

_BACKENDS = ("torch", "onnx", "onnx-int8", "e5")
_RETRIEVAL = RetrievalMode.__args__  # type: ignore[attr-defined]


def _handle_errors(fn):
    @wraps(fn)
    def wrapper(*args, **kwargs):
        from assistant.cli import _handle_errors as handle

        return handle(fn)(*args, **kwargs)

    return wrapper


def _assistant(collection: str | None = None):
    from assistant import cli

    return cli._assistant(collection=cli._collection_name(collection))


def _line(info: CollectionInfo) -> str:
    s = info.settings
    shape = f"{s.get('chunk_tokens')}/{s.get('chunk_overlap')} tokens, {s.get('retrieval')}, {s.get('index_embedding_backend')}"
    folders = ", ".join(info.folders) or "-"
    mark = " (default)" if info.default else ""
    return (f"{info.name}{mark}\t{info.documents} documents\t{info.chunks} chunks\t{shape}\t"
            f"folders: {folders}\tlast sync: {info.last_sync or 'never'}")


# ----- collections ---------------------------------------------------------------------------
@click.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print the list as JSON.")
@click.pass_context
@_handle_errors
def collections(ctx: click.Context, as_json: bool) -> None:
    """List collections (documents, chunks, settings, folders, last sync); or create, rename, delete one."""
    if ctx.invoked_subcommand is not None:
        return
    infos = _assistant().collections.list()
    if as_json:
        click.echo(json.dumps([i.to_dict() for i in infos], indent=2))
        return
    for info in infos:
        click.echo(_line(info))


@collections.command("create")
@click.argument("name")
@click.option("--chunk-tokens", type=click.IntRange(16, 2048), default=None, help="Chunk size in tokens.")
@click.option("--chunk-overlap", type=click.IntRange(0, 1024), default=None, help="Tokens repeated between chunks.")
@click.option("--retrieval", type=click.Choice(_RETRIEVAL), default=None, help="hybrid, dense or lexical.")
@click.option("--embedding-backend", type=click.Choice(_BACKENDS), default=None,
              help="Encoder of this collection's index (default: ASSISTANT_INDEX_EMBEDDING_BACKEND).")
@_handle_errors
def create(name: str, chunk_tokens: int | None, chunk_overlap: int | None, retrieval: str | None,
           embedding_backend: str | None) -> None:
    """Create collection NAME with the settings its index is built with (unset: the current ones)."""
    shaping = {"chunk_tokens": chunk_tokens, "chunk_overlap": chunk_overlap, "retrieval": retrieval,
               "index_embedding_backend": embedding_backend}
    info = _assistant().collections.create(name, **{k: v for k, v in shaping.items() if v is not None})
    click.echo(f"Created {_line(info)}")
    click.echo(f"Add documents: assistant ingest --collection {name} PATH")


@collections.command("delete")
@click.argument("name")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@_handle_errors
def delete(name: str, yes: bool) -> None:
    """Delete collection NAME: its index, kept texts and uploads (never another collection's files)."""
    manager = _assistant().collections
    info = manager.get(name)
    if not yes:
        click.confirm(f"Delete collection {name!r} ({info.documents} documents, {info.chunks} chunks)?", abort=True)
    manager.delete(name)
    click.echo(f"Deleted collection {name!r}.")


@collections.command("rename")
@click.argument("old")
@click.argument("new")
@_handle_errors
def rename(old: str, new: str) -> None:
    """Rename collection OLD to NEW (documents, vectors and settings move with it)."""
    info = _assistant().collections.rename(old, new)
    click.echo(f"Renamed {old!r} to {_line(info)}")


# ----- documents ----------------------------------------------------------------------------
_COLLECTION = click.option("--collection", "-c", default=None, metavar="NAME",
                           help="The collection (default: ASSISTANT_COLLECTION).")


@click.group(invoke_without_command=True)
@_COLLECTION
@click.pass_context
@_handle_errors
def documents(ctx: click.Context, collection: str | None) -> None:
    """List indexed documents; or show, delete or re-index one."""
    ctx.obj = collection
    if ctx.invoked_subcommand is not None:
        return
    for doc in _assistant(collection).documents():
        click.echo(f"{doc['id']}\t{doc['chunks']} chunks\t{doc['title']}")


def _collection(ctx: click.Context, own: str | None) -> str | None:
    return own or ctx.obj


@documents.command("list")
@_COLLECTION
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@_handle_errors
def list_documents(ctx: click.Context, collection: str | None, as_json: bool) -> None:
    """List indexed documents: id, chunks, title."""
    docs = _assistant(_collection(ctx, collection)).documents()
    if as_json:
        click.echo(json.dumps(docs, indent=2, ensure_ascii=False))
        return
    for doc in docs:
        click.echo(f"{doc['id']}\t{doc['chunks']} chunks\t{doc['title']}")


@documents.command("show")
@click.argument("doc_id")
@_COLLECTION
@click.pass_context
@_handle_errors
def show(ctx: click.Context, doc_id: str, collection: str | None) -> None:
    """Print the full text of document DOC_ID."""
    click.echo(_assistant(_collection(ctx, collection)).document_text(doc_id))


@documents.command("delete")
@click.argument("doc_ids", nargs=-1, required=True)
@_COLLECTION
@click.pass_context
@_handle_errors
def delete_document(ctx: click.Context, doc_ids: tuple[str, ...], collection: str | None) -> None:
    """Remove documents DOC_IDS (chunks and kept text) from the index; the files are not touched."""
    assistant = _assistant(_collection(ctx, collection))
    for doc_id in doc_ids:
        assistant.delete_document(doc_id)
        click.echo(f"Deleted {doc_id!r} from collection {assistant.settings.collection!r}.")


@documents.command("reindex")
@click.argument("doc_id")
@_COLLECTION
@click.pass_context
@_handle_errors
def reindex(ctx: click.Context, doc_id: str, collection: str | None) -> None:
    """Parse, chunk and index document DOC_ID's file again."""
    report = _assistant(_collection(ctx, collection)).reindex_document(doc_id)
    click.echo(f"Re-indexed {doc_id!r}: {report.summary()}")
