"""Uploaded documents, from the chat or ``POST /api/upload``, saved safely, then ingested.

An upload's name and content come from whoever sent it, so nothing about it
is trusted: the name is reduced to a plain file name, the size is capped while
copying (a huge upload never fills the disk), and the file is parsed the way
ingest will parse it before it is saved, so a refused file never lands in
``<index_dir>/uploads``. Each refused file is reported with the reason; the
others are still added.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import unicodedata
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any, BinaryIO

from assistant.assistant import Assistant
from assistant.errors import AssistantError, InputError
from assistant.ingest import documents as _documents

#: Whatever the core can ingest (.txt/.md, and PDF/HTML/DOCX where supported).
UPLOAD_SUFFIXES: tuple[str, ...] = tuple(getattr(_documents, "SUPPORTED_SUFFIXES", (".txt", ".md")))
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")

#: Called with (fraction done, description).
Progress = Callable[[float, str], None]


@dataclass
class UploadReport:
    """What happened to each uploaded file; ``refused`` items carry the reason."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    refused: list[dict[str, str]] = field(default_factory=list)
    saved: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def refuse(self, name: str, reason: str) -> None:
        self.refused.append({"file": name, "reason": reason})


def sanitise_filename(name: str) -> str:
    """A safe file name from a user-supplied one: no folders, no dots in front, ASCII only.

    ``../../etc/passwd.txt`` becomes ``passwd.txt``; ``C:\\x\\<b>.md`` becomes ``b_.md``.
    """
    base = PureWindowsPath(PurePosixPath(str(name)).name).name
    base = unicodedata.normalize("NFKD", base).encode("ascii", "ignore").decode("ascii")
    base = _UNSAFE.sub("_", base).strip("._-")
    stem, dot, suffix = base.rpartition(".")
    if not dot:
        stem, suffix = base, ""
    stem = stem.strip("._-")[:100] or "upload"
    return f"{stem}.{suffix.lower()}" if suffix else stem


def human_bytes(n: int) -> str:
    """``1234567`` -> ``"1.23 MB"``: a size as a person reads it (decimal units)."""
    size = float(n)
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{n:,} {unit}" if unit == "bytes" else f"{size:.3g} {unit}"
        size /= 1000
    return f"{size} GB"


def copy_capped(source: BinaryIO, target: Path, limit: int) -> None:
    """Copy an upload stream to ``target``, stopping one byte past ``limit``.

    One byte past the limit is enough for the size check to refuse the file.
    """
    size = 0
    with target.open("wb") as fh:
        while size <= limit and (chunk := source.read(1 << 20)):
            fh.write(chunk[: limit + 1 - size])
            size += len(chunk)


def _check_readable(path: Path, safe_name: str, max_bytes: int) -> None:
    """Parse the upload the way ingest will, so a refused file is never saved."""
    read_document = getattr(_documents, "read_document", None)
    if read_document is None:
        _documents.read_text_file(path, max_bytes)
        return
    if path.suffix.lower() != Path(safe_name).suffix.lower():
        # Parsers pick the format by suffix; give them the upload's own.
        with tempfile.TemporaryDirectory(prefix="assistant-check-") as tmp:
            named = Path(tmp) / safe_name
            shutil.copyfile(path, named)
            read_document(named, named.stem, max_bytes)
        return
    read_document(path, path.stem, max_bytes)


def _refusal(tmp: Path, safe: str, max_bytes: int) -> str | None:
    """Why an upload cannot be indexed (type, size, content), or None when it can."""
    suffix = Path(safe).suffix.lower()
    if suffix not in UPLOAD_SUFFIXES:
        return f"unsupported file type {suffix or '(none)'!r}; upload {', '.join(UPLOAD_SUFFIXES)} files"
    try:
        size = tmp.stat().st_size
        if size > max_bytes:
            raise InputError(f"{size:,} bytes is over the {max_bytes:,}-byte limit; split the file")
        _check_readable(tmp, safe, max_bytes)
    except InputError as exc:
        reason = str(exc)
        if reason.startswith("/") and ": " in reason:  # drop the temporary path
            reason = reason.split(": ", 1)[1]
        return reason
    except OSError as exc:
        return f"cannot read the upload: {exc.strerror or exc}"
    return None


def _conflict(target: Path, known: dict[str, str], accepted: list[Path]) -> str | None:
    """Why saving as ``target`` would clash with an indexed document or another upload."""
    existing = known.get(target.stem)
    if existing and Path(existing).resolve() != target:
        return f"a document with id {target.stem!r} is already indexed from another file; rename the upload"
    if target in accepted:
        return f"uploaded twice as {target.name}; keep one"
    return None


def _save_accepted(
    assistant: Assistant, files: list[tuple[str, Path]], folder: Path, report: UploadReport, progress: Progress | None
) -> list[Path]:
    """Check each upload and copy the good ones into ``folder``; refusals go in ``report``."""
    known = {d["id"]: d.get("path") or "" for d in assistant.documents()}
    accepted: list[Path] = []
    for i, (original, tmp) in enumerate(files):
        if progress:
            progress(0.1 * i / max(1, len(files)), f"Checking {original}")
        display = PureWindowsPath(PurePosixPath(str(original)).name).name or "(no name)"
        safe = sanitise_filename(original)
        target = folder / safe
        reason = _refusal(Path(tmp), safe, assistant.settings.max_file_bytes) or _conflict(target, known, accepted)
        if reason:
            report.refuse(display, reason)
            continue
        shutil.copyfile(tmp, target)
        accepted.append(target)
        report.saved.append(safe)
    return accepted


def _ingest_saved(
    assistant: Assistant, accepted: list[Path], folder: Path, report: UploadReport, progress: Progress | None
) -> None:
    """Ingest the saved uploads; a file ingest refuses is deleted again."""

    def on_progress(done: int, total: int, doc_id: str) -> None:
        if progress:
            progress(0.1 + 0.9 * done / max(1, total), f"Embedding {doc_id}")

    if progress:
        progress(0.1, "Embedding")
    try:
        result = assistant.ingest(accepted, progress=on_progress)
    except AssistantError:
        for path in accepted:
            path.unlink(missing_ok=True)
        raise
    report.added, report.updated, report.unchanged = result.added, result.updated, result.skipped
    for err in result.errors:
        name = Path(err["path"]).name
        report.refuse(name, err["reason"])
        (folder / name).unlink(missing_ok=True)
    if progress:
        progress(1.0, "Done")


def ingest_uploads(
    assistant: Assistant, files: list[tuple[str, Path]], progress: Progress | None = None
) -> UploadReport:
    """Check, save under ``<collection folder>/uploads`` and ingest uploaded files.

    Args:
        assistant: the assistant whose index receives the files.
        files: ``(original name, temporary path)`` pairs.
        progress: called with (fraction done, description).

    Returns:
        What was added, updated, unchanged, saved and refused (with reasons).
    """
    folder = (Path(assistant.settings.collection_dir) / "uploads").resolve()
    folder.mkdir(parents=True, exist_ok=True)
    report = UploadReport()
    accepted = _save_accepted(assistant, files, folder, report, progress)
    if accepted:
        _ingest_saved(assistant, accepted, folder, report, progress)
    return report
