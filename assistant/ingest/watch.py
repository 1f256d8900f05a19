"""Keep an index in sync with folders as files are added, edited, renamed and deleted.

``FolderWatcher`` first catches up (one full ``Assistant.ingest`` of the
folders, which adds, updates and removes by content hash, so changes made
while nothing watched are not lost), then follows the folders with
``watchfiles`` (inotify/FSEvents, polling nothing) and applies each burst of
changes with ``IngestPipeline.apply``, which loads only the files that
changed. Why not re-run the whole ingest on every event: it re-reads and
re-hashes every file of the folder, seconds for a large one, for a one-line edit.

A burst is decided by what is on disk when it is applied, not by the event
kinds: editors save through temporary files and renames, so "deleted then
added" and "modified" often describe the same edit. A path that exists is
loaded; one that does not is removed. A file whose size or modification time
still moves between two looks ``settle_s`` apart is being written (a copy, a
download) and waits for the next round.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.errors import AssistantError, InputError
from assistant.ingest.documents import SUPPORTED_SUFFIXES, iter_source_files
from assistant.ingest.pipeline import IngestPipeline, IngestReport

if TYPE_CHECKING:
    from assistant.assistant import Assistant

log = logging.getLogger(__name__)

DEBOUNCE_MS = 1600  # longest a burst is gathered before it is applied (watchfiles' default)
STEP_MS = 100  # a burst ends after this long without a new change
SETTLE_S = 0.4  # a file whose size/mtime moves within this long is still being written
RETRY_MS = 500  # how often files still being written are looked at again (and the catch-up's delay)
LISTED = 5  # document ids named in a batch's line before "and N more"
_TEMP_SUFFIXES = ("~", ".tmp", ".swp", ".swx", ".part", ".crdownload")


@dataclass
class SyncBatch:
    """One applied burst of changes: which paths, what the index did, and how long it took."""

    changed: list[str] = field(default_factory=list)  # files (or folders) loaded
    deleted: list[str] = field(default_factory=list)  # paths gone whose documents were removed
    waiting: list[str] = field(default_factory=list)  # still being written: retried next round
    report: IngestReport = field(default_factory=IngestReport)
    seconds: float = 0.0
    catch_up: bool = False  # the full ingest a watcher starts with

    def line(self) -> str:
        """One line for people: what changed in the index, refusals by name, seconds."""
        r = self.report
        parts = [f"{label} {_names(ids)}" for label, ids in
                 (("added", r.added), ("updated", r.updated), ("removed", r.removed)) if ids]
        if r.skipped:
            parts.append(f"unchanged {_names(r.skipped)}")
        parts += [f"refused {Path(e['path']).name}: {e['reason']}" for e in r.errors[:LISTED]]
        if len(r.errors) > LISTED:
            parts.append(f"{len(r.errors) - LISTED} more refused")
        if self.waiting:
            parts.append(f"waiting for {_names([Path(p).name for p in self.waiting])} (still being written)")
        body = "; ".join(parts) or "no change"
        kind = "catch-up" if self.catch_up else "sync"
        return f"{kind}: {body} ({r.chunks_embedded} chunks embedded, {self.seconds:.2f}s)"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the paths, the ingest report and the seconds."""
        return {"changed": self.changed, "deleted": self.deleted, "waiting": self.waiting,
                "report": self.report.to_dict(), "seconds": self.seconds, "catch_up": self.catch_up}


class WatchFilter:
    """Which filesystem events matter: supported files and folders, never hidden, temporary or index files.

    A folder passes when it is added or deleted (moving a folder in or out
    reports the folder alone, not its files) but not when modified, which
    would load it whole for every file changed inside it.
    """

    def __init__(self, roots: list[Path], exclude: Iterable[Path] = ()) -> None:
        self.folders = [r for r in roots if r.is_dir()]
        self.files = {r for r in roots if not r.is_dir()}
        # The index may sit inside a watched folder (indexes/ in a project): its own
        # files (documents/<id>.txt) must not be ingested back into it.
        self.exclude = [p.resolve() for p in exclude]

    def __call__(self, change: Any, path: str) -> bool:
        import watchfiles

        p = Path(os.path.abspath(path))  # not resolve(): a symlinked document stays under its folder
        if any(p == e or e in p.parents for e in self.exclude):
            return False
        if p not in self.files:
            root = next((r for r in self.folders if r in p.parents), None)
            if root is None or any(part.startswith((".", "#", "~$")) for part in p.relative_to(root).parts):
                return False
        if p.name.endswith(_TEMP_SUFFIXES):
            return False
        if p.suffix.lower() in SUPPORTED_SUFFIXES:
            return True
        if change == watchfiles.Change.deleted:
            return True  # may have been a folder; applied only when documents lay under it
        return change == watchfiles.Change.added and p.is_dir()


class FolderWatcher:
    """Follows folders (and files) and keeps ``assistant``'s index in sync with them.

    Example:
        >>> watcher = FolderWatcher(assistant, ["~/notes"], on_batch=lambda b: print(b.line()))
        >>> watcher.run()            # catch up, then follow until Ctrl-C or stop()
        >>> watcher.start()          # the same in a background thread (a server's)
    """

    def __init__(
        self,
        assistant: Assistant,
        roots: Iterable[str | Path],
        *,
        on_batch: Callable[[SyncBatch], None] | None = None,
        debounce_ms: int = DEBOUNCE_MS,
        step_ms: int = STEP_MS,
        settle_s: float = SETTLE_S,
    ) -> None:
        """Check the roots; nothing is read or watched until ``catch_up``/``run``.

        Raises:
            InputError: no root given, or a root does not exist.
        """
        given_roots = list(roots)
        self.roots = [Path(r).expanduser().resolve() for r in given_roots]
        if not self.roots:
            raise InputError("No folder to watch; pass one, e.g. `assistant ingest --watch my-folder/`.")
        for given, root in zip(given_roots, self.roots, strict=True):
            if not root.exists():
                raise InputError(f"{given}: no such file or folder to watch; check the path.")
        self.assistant = assistant
        self.pipeline = IngestPipeline(assistant.index)
        self.on_batch = on_batch
        self.debounce_ms = debounce_ms
        self.step_ms = step_ms
        self.settle_s = settle_s
        self.filter = WatchFilter(self.roots, exclude=[assistant.settings.index_dir])
        self.pending: set[Path] = set()
        self.stop_event = threading.Event()
        self.thread: threading.Thread | None = None

    # ----- the two steps ---------------------------------------------------------
    def catch_up(self) -> IngestReport:
        """Make the index mirror the roots now (a full ingest; unchanged files are skipped by hash)."""
        files, _ = iter_source_files(self.roots)
        if files:
            return self.assistant.ingest(self.roots)
        # An empty folder is a fine thing to watch; documents once indexed from it are gone.
        return self.pipeline.apply([], self.roots)

    def sync(self, paths: Iterable[str | Path] = ()) -> SyncBatch | None:
        """Apply changes to ``paths`` (plus any still waiting) as one batch; None when nothing is due.

        Each path is judged by what is on disk now: present files are loaded,
        missing paths removed, files still being written left waiting. A batch
        that fails (the index busy for 30 s, the store down) is logged and
        retried with the next one.
        """
        self.pending.update(Path(p) for p in paths)
        if not self.pending:
            return None
        started = time.perf_counter()
        due = sorted(self.pending)
        present = [p for p in due if p.exists()]
        gone = [p for p in due if not p.exists() and self._indexed_under(p)]
        waiting = self._being_written([p for p in present if p.is_file()])
        changed = [p for p in present if p not in waiting]
        self.pending = set(waiting)
        if not changed and not gone:
            if waiting:
                log.info("waiting for %s (still being written)", ", ".join(map(str, waiting)))
            return None
        try:
            report = self.pipeline.apply(changed, gone)
        except AssistantError as exc:
            log.error("sync of %d paths failed, retried next round: %s", len(due), exc)
            self.pending.update(changed + gone)
            return None
        if report.rebuilt:  # another process changed the model or chunking: rebuild from everything
            report = self.catch_up()
        else:  # `assistant collections` shows when the watched folders were last synced
            settings = self.assistant.settings
            with contextlib.suppress(AssistantError):
                self.assistant.collections.record_sync(settings.collection, [str(r) for r in self.roots], settings)
        batch = SyncBatch([str(p) for p in changed], [str(p) for p in gone], [str(p) for p in waiting], report,
                          round(time.perf_counter() - started, 3))
        self._announce(batch)
        return batch

    def _announce(self, batch: SyncBatch) -> None:
        log.info(batch.line())
        for err in batch.report.errors:
            log.warning("refused %s: %s", err["path"], err["reason"])
        if self.on_batch is not None:
            self.on_batch(batch)

    def _indexed_under(self, path: Path) -> bool:
        """True when a document was indexed from ``path`` or from under it (a deleted folder)."""
        resolved = path.resolve()
        for entry in self.assistant.index.manifest().documents.values():
            p = Path(entry.path) if entry.path else None
            if p is not None and (p == resolved or resolved in p.parents):
                return True
        return False

    def _being_written(self, files: list[Path]) -> list[Path]:
        """The files whose size or modification time changes within ``settle_s``."""
        if not files or self.settle_s <= 0:
            return []
        before = {p: _signature(p) for p in files}
        self.stop_event.wait(self.settle_s)
        return [p for p in files if _signature(p) != before[p]]

    # ----- following ---------------------------------------------------------------
    def run(self) -> None:
        """Catch up, then apply each burst of changes until ``stop()`` (or Ctrl-C in the main thread)."""
        import watchfiles

        folders = sorted({r if r.is_dir() else r.parent for r in self.roots})
        caught_up = False
        for changes in watchfiles.watch(
            *folders,
            watch_filter=self.filter,
            debounce=self.debounce_ms,
            step=self.step_ms,
            stop_event=self.stop_event,
            rust_timeout=RETRY_MS,
            yield_on_timeout=True,  # so files still being written are looked at again without a new event
            raise_interrupt=True,
        ):
            if self.stop_event.is_set():
                break
            if not caught_up:
                # The first yield (a change, or RETRY_MS without one) comes once the folders are
                # watched: catching up only now means a change made during it is the next batch,
                # never lost between a catch-up and the start of watching.
                self.catch_up_and_announce()
                caught_up = True
                continue
            self.sync(Path(path) for _, path in changes)

    def catch_up_and_announce(self) -> SyncBatch:
        """``catch_up``, reported like any batch (log line and callback)."""
        started = time.perf_counter()
        report = self.catch_up()
        batch = SyncBatch([str(r) for r in self.roots], [], [], report, round(time.perf_counter() - started, 3),
                          catch_up=True)
        self._announce(batch)
        return batch

    def start(self) -> threading.Thread:
        """``run`` in a daemon thread (a server's); a failure is logged, never raised into the server."""

        def follow() -> None:
            try:
                self.run()
            except Exception:
                log.exception("watching %s stopped", ", ".join(map(str, self.roots)))

        self.thread = threading.Thread(target=follow, name="folder-watcher", daemon=True)
        self.thread.start()
        return self.thread

    def stop(self, timeout: float = 10.0) -> None:
        """Stop following (the batch in progress finishes first)."""
        self.stop_event.set()
        if self.thread is not None and self.thread is not threading.current_thread():
            self.thread.join(timeout)


def _names(ids: list[str]) -> str:
    """Up to ``LISTED`` names, then how many more (a catch-up may add thousands)."""
    shown = ", ".join(ids[:LISTED])
    return shown if len(ids) <= LISTED else f"{shown} and {len(ids) - LISTED} more"


def _signature(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns
