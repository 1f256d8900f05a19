"""Named collections: one index per folder, project or client, each with its own settings.

A collection is a whole index (Chroma collection, BM25, manifest, texts) plus
a small record: the settings that shape its index (chunk size and overlap,
retrieval mode, index encoder), the folders ingested into it and when it was
last synced. The default collection is today's index in ``index_dir`` and
always exists; its record is optional (without one it follows the
environment, so nothing changes for a user who never names a collection).

Records live where the index lives, so every process that shares an index
sees the same collections:

- embedded: ``collection.json`` in the collection's folder
  (``index_dir/collections/NAME``, or ``index_dir`` for the default);
- server (``ASSISTANT_CHROMA_URL``): one record per collection in the server's
  ``assistant__collections`` collection ("__" never occurs in a user's name).

Writing documents into a collection creates it (``ensure``); reading one that
does not exist is an error that names it (``get``).
"""

from __future__ import annotations

import builtins
import contextlib
import json
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from assistant.errors import InputError, NotFoundError
from assistant.settings import DEFAULT_COLLECTION, Settings, collection_name_problem
from assistant.store.chroma import ChromaCaller, open_chroma_client
from assistant.store.lease import lease_prefix
from assistant.store.manifest import ChromaManifestStore, ManifestFile

#: The settings that shape a collection's index, kept in its record.
SHAPING = ("chunk_tokens", "chunk_overlap", "retrieval", "index_embedding_backend")
RECORD_FILE = "collection.json"
SERVER_REGISTRY = "assistant__collections"


def check_name(name: str) -> str:
    """``name`` when it can name a collection.

    Raises:
        InputError: naming the value and what a name may hold.
    """
    problem = collection_name_problem(name)
    if problem:
        raise InputError(f"Invalid collection name {name!r}: {problem}.")
    return name


@dataclass
class CollectionInfo:
    """A collection as ``assistant collections`` lists it."""

    name: str
    settings: dict[str, Any] = field(default_factory=dict)
    folders: list[str] = field(default_factory=list)
    created: str | None = None
    last_sync: str | None = None
    documents: int = 0
    chunks: int = 0
    default: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class _FileRecords:
    """Records as ``collection.json`` files in the collections' folders (embedded mode)."""

    def __init__(self, index_dir: Path) -> None:
        self.index_dir = index_dir

    def folder(self, name: str) -> Path:
        return self.index_dir if name == DEFAULT_COLLECTION else self.index_dir / "collections" / name

    def load(self, name: str) -> dict[str, Any] | None:
        try:
            return json.loads((self.folder(name) / RECORD_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def save(self, record: dict[str, Any]) -> None:
        path = self.folder(record["name"]) / RECORD_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(record, indent=1, sort_keys=True), encoding="utf-8")
        tmp.replace(path)

    def names(self) -> list[str]:
        root = self.index_dir / "collections"
        found = [p.parent.name for p in root.glob(f"*/{RECORD_FILE}")] if root.is_dir() else []
        return sorted(n for n in found if collection_name_problem(n) is None)

    def delete(self, name: str) -> None:
        (self.folder(name) / RECORD_FILE).unlink(missing_ok=True)


class _ServerRecords:
    """Records in the Chroma server's ``assistant__collections`` (1-d dummy embeddings, as the manifest)."""

    def __init__(self, client: Callable[[], Any], call: ChromaCaller) -> None:
        self._client = client
        self._call = call
        self._col: Any = None

    def _collection(self) -> Any:
        if self._col is None:
            client = self._client()
            self._col = self._call(lambda: client.get_or_create_collection(SERVER_REGISTRY, embedding_function=None))
        return self._col

    def load(self, name: str) -> dict[str, Any] | None:
        col = self._collection()
        got = self._call(lambda: col.get(ids=[name], include=["documents"]))
        return json.loads(got["documents"][0]) if got["documents"] else None

    def save(self, record: dict[str, Any]) -> None:
        col = self._collection()
        self._call(lambda: col.upsert(ids=[record["name"]], embeddings=[[1.0]],
                                      documents=[json.dumps(record, sort_keys=True)]))

    def names(self) -> list[str]:
        col = self._collection()
        return sorted(n for n in self._call(lambda: col.get(include=[]))["ids"] if n != DEFAULT_COLLECTION)

    def delete(self, name: str) -> None:
        col = self._collection()
        self._call(lambda: col.delete(ids=[name]))


class Collections:
    """List, create, rename and delete collections; the settings each one's index is built with.

    Example:
        >>> assistant.collections.create("contracts", chunk_tokens=240)
        >>> Assistant(collection="contracts").ingest(["~/contracts"])
        >>> [c.name for c in assistant.collections.list()]
        ['assistant', 'contracts']
    """

    def __init__(self, settings: Settings, client: Any = None) -> None:
        self.settings = settings
        self._client = client
        self._call = ChromaCaller(settings)
        self._records: _FileRecords | _ServerRecords = (
            _ServerRecords(self._chroma, self._call) if settings.chroma_url else _FileRecords(settings.index_dir)
        )

    def _chroma(self) -> Any:
        if self._client is None:
            self._client = open_chroma_client(self.settings)
        return self._client

    # ----- reading ----------------------------------------------------------------
    def exists(self, name: str) -> bool:
        return name == DEFAULT_COLLECTION or self._records.load(name) is not None

    def require(self, name: str) -> dict[str, Any] | None:
        """The record of collection ``name`` (None: the default, which needs none), read once.

        Raises:
            InputError: the name is invalid.
            NotFoundError: no collection has that name.
        """
        check_name(name)
        record = self._records.load(name)
        if record is None and name != DEFAULT_COLLECTION:
            known = ", ".join(self.names())
            raise NotFoundError(
                f"No collection named {name!r} (there are: {known}); create it with "
                f"`assistant collections create {name}` or ingest into it with `assistant ingest --collection {name} PATH`."
            )
        return record

    def get(self, name: str) -> CollectionInfo:
        """The collection ``name`` with its document and chunk counts.

        Raises:
            InputError: the name is invalid.
            NotFoundError: no collection has that name.
        """
        record = self.require(name)
        info = CollectionInfo(name=name, default=name == DEFAULT_COLLECTION, **_stored_fields(record))
        settings = self.settings_for(name, record)
        if name == DEFAULT_COLLECTION or not info.settings:
            info.settings = {k: getattr(settings, k) for k in SHAPING}
        manifest = _stored_manifest(settings, self._chroma if self.settings.chroma_url else None, self._call)
        if manifest is not None:
            info.documents = len(manifest.documents)
            info.chunks = sum(len(e.chunk_ids) for e in manifest.documents.values())
        return info

    def names(self) -> list[str]:
        return [DEFAULT_COLLECTION, *(n for n in self._records.names() if n != DEFAULT_COLLECTION)]

    def list(self) -> list[CollectionInfo]:
        """Every collection, the default first, with counts, folders, settings and last sync."""
        return [self.get(name) for name in self.names()]

    def settings_for(self, name: str, record: dict[str, Any] | None = None, **explicit: Any) -> Settings:
        """``self.settings`` for collection ``name``: its record's shaping settings, then ``explicit``."""
        check_name(name)
        if record is None:
            record = self._records.load(name)
        update: dict[str, Any] = {"collection": name}
        if name != DEFAULT_COLLECTION:  # the default collection follows the environment, as it always has
            update.update((record or {}).get("settings") or {})
        update.update(explicit)
        return Settings(**{**self.settings.model_dump(), **update})

    # ----- writing ----------------------------------------------------------------
    def create(self, name: str, **shaping: Any) -> CollectionInfo:
        """Create ``name`` with the given shaping settings (unset ones: the current settings).

        Raises:
            InputError: the name is invalid or taken, or a setting is unknown or invalid.
        """
        check_name(name)
        if self.exists(name):
            raise InputError(f"A collection named {name!r} already exists; pick another name or use it.")
        unknown = sorted(set(shaping) - set(SHAPING))
        if unknown:
            raise InputError(f"Unknown collection setting(s) {unknown}; a collection keeps {', '.join(SHAPING)}.")
        settings = self._checked(name, shaping)
        record: dict[str, Any] = {"name": name, "settings": {k: getattr(settings, k) for k in SHAPING},
                  "folders": [], "created": _now(), "last_sync": None}
        self._records.save(record)
        return self.get(name)

    def ensure(self, name: str, **shaping: Any) -> bool:
        """Create ``name`` unless it exists (an ingest into a new name); True when created."""
        if self.exists(name):
            return False
        try:
            self.create(name, **shaping)
        except InputError:
            if self.exists(name):
                return False  # another process (a second machine's ingest) created it since the check
            raise
        return True

    def record_sync(self, name: str, folders: builtins.list[str], settings: Settings) -> None:
        """After an ingest: the folders it read, when, and the settings its index now has."""
        record = self._records.load(name) or {"name": name, "created": _now(), "folders": []}
        known: builtins.list[str] = [*(record.get("folders") or [])]
        known.extend(str(Path(f).resolve()) for f in folders if str(Path(f).resolve()) not in known)
        record.update(folders=known, last_sync=_now(), settings={k: getattr(settings, k) for k in SHAPING})
        self._records.save(record)

    def rename(self, old: str, new: str) -> CollectionInfo:
        """Rename ``old`` to ``new``; its documents, vectors and settings move with it.

        Raises:
            InputError: either name is invalid, ``old`` is the default, or ``new`` is taken.
            NotFoundError: ``old`` does not exist.
        """
        check_name(new)
        self._not_default(old, "renamed")
        record = dict(self.require(old) or {})
        if self.exists(new):
            raise InputError(f"A collection named {new!r} already exists; pick another name.")
        if self.settings.chroma_url:
            client = self._chroma()
            manifest = ChromaManifestStore.collection_name
            for old_name, new_name in ((old, new), (manifest(old), manifest(new))):
                try:
                    col = self._call(lambda n=old_name: client.get_collection(n))  # type: ignore[misc]
                except Exception:  # never ingested into: nothing to move
                    continue
                self._call(lambda c=col, n=new_name: c.modify(name=n))  # type: ignore[misc]
            self._drop_leases(old)
            self._records.delete(old)
        else:
            records = self._records
            assert isinstance(records, _FileRecords)
            _forget_embedded_chroma(records.folder(old) / "chroma")
            records.folder(old).rename(records.folder(new))
            _rename_embedded_chroma(records.folder(new) / "chroma", old, new, self.settings)
        record["name"] = new
        self._records.save(record)
        return self.get(new)

    def delete(self, name: str) -> None:
        """Delete ``name``: its index, texts, uploads and record; no other collection is touched.

        Raises:
            InputError: ``name`` is invalid or the default collection.
            NotFoundError: it does not exist.
        """
        self._not_default(name, "deleted")
        self.require(name)
        if self.settings.chroma_url:
            client = self._chroma()
            for chroma_name in (name, ChromaManifestStore.collection_name(name)):
                with contextlib.suppress(Exception):  # never ingested into
                    self._call(lambda n=chroma_name: client.delete_collection(n))  # type: ignore[misc]
            self._drop_leases(name)
            self._records.delete(name)
        else:
            records = self._records
            assert isinstance(records, _FileRecords)
            folder = records.folder(name).resolve()
            # Only ever a folder directly inside index_dir/collections (the name has no path characters).
            assert folder.parent == (self.settings.index_dir / "collections").resolve()
            _forget_embedded_chroma(folder / "chroma")
            shutil.rmtree(folder)

    def _drop_leases(self, name: str) -> None:
        """Remove the ingest leases (``<name>__lease__<n>``, store/lease.py) a gone name leaves in the server."""
        client = self._chroma()
        prefix = lease_prefix(name)
        for col in self._call(lambda: client.list_collections()):
            col_name = col if isinstance(col, str) else col.name
            if col_name.startswith(prefix):
                with contextlib.suppress(Exception):
                    self._call(lambda n=col_name: client.delete_collection(n))  # type: ignore[misc]

    def _not_default(self, name: str, action: str) -> None:
        check_name(name)
        if name == DEFAULT_COLLECTION:
            raise InputError(
                f"The default collection {DEFAULT_COLLECTION!r} cannot be {action}; "
                "delete its documents with `assistant documents delete ID`, or use a named collection."
            )

    def _checked(self, name: str, shaping: dict[str, Any]) -> Settings:
        from assistant.settings import load_settings

        base = {k: v for k, v in self.settings.model_dump().items() if k not in shaping}
        return load_settings(**{**base, **shaping, "collection": name})


def _stored_fields(record: dict[str, Any] | None) -> dict[str, Any]:
    if not record:
        return {}
    return {k: record.get(k) for k in ("settings", "folders", "created", "last_sync") if record.get(k) is not None}


def _stored_manifest(settings: Settings, client: Callable[[], Any] | None, call: ChromaCaller) -> Any:
    """A collection's stored manifest without opening its vectors (None when never ingested)."""
    if client is None:
        return ManifestFile(settings.collection_dir / "manifest.json").load()
    name = ChromaManifestStore.collection_name(settings.collection)

    def manifest_collection() -> Any:
        return call(lambda: client().get_or_create_collection(name, embedding_function=None))

    return ChromaManifestStore(manifest_collection, call).load()


def _rename_embedded_chroma(path: Path, old: str, new: str, settings: Settings) -> None:
    """The embedded store keeps the Chroma collection's name too: rename it inside its folder."""
    if not path.is_dir():
        return
    client = open_chroma_client(settings.model_copy(update={"collection": new}))
    try:
        client.get_collection(old).modify(name=new)
    except Exception:
        return  # no chunk collection yet


def _forget_embedded_chroma(path: Path) -> None:
    """Drop this process's cached Chroma system for ``path`` before its files go.

    chromadb keeps one system per path per process: without this, a collection
    created again under the same name would write through the deleted files' handles.
    """
    try:
        from chromadb.api.shared_system_client import SharedSystemClient

        system = SharedSystemClient._identifier_to_system.pop(str(path), None)  # noqa: SLF001
        SharedSystemClient._identifier_to_refcount.pop(str(path), None)  # noqa: SLF001
        if system is not None:
            system.stop()
    except Exception:
        pass  # an older or newer chromadb: at worst the files stay open until exit
