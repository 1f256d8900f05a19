"""What the chat and the HTTP API share: serialised answering and document uploads.

Both surfaces call the same ``Assistant``; this module only adds what a
server needs on top of it: one question at a time through the (not
thread-safe) local model, a per-question generator choice, and saving
uploaded files safely before ingesting them.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import tempfile
import threading
import unicodedata
from collections.abc import Callable, Generator, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

from assistant.answer import Answer
from assistant.answering.chain import validate_question
from assistant.assistant import Assistant
from assistant.errors import AssistantError, BackendError, InputError
from assistant.ingest import documents as _documents
from assistant.settings import LOCAL_GENERATORS

#: Generators a user may pick per question in the chat or the API.
#: Whatever the core can ingest (.txt/.md, and PDF/HTML/DOCX where supported).
UPLOAD_SUFFIXES: tuple[str, ...] = tuple(getattr(_documents, "SUPPORTED_SUFFIXES", (".txt", ".md")))
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def plain_history(history: list[dict[str, Any]] | None) -> list[dict[str, str]]:
    """Keep only well-formed ``{"role", "content"}`` turns (what the core condenses)."""
    out: list[dict[str, str]] = []
    for turn in history or []:
        if isinstance(turn, dict) and turn.get("role") in ("user", "assistant"):
            content = turn.get("content")
            if isinstance(content, str) and content.strip():
                out.append({"role": turn["role"], "content": content})
    return out


class AnswerService:
    """Answers one question at a time; a caller that waits too long gets a 503, not a hang."""

    def __init__(self, assistant: Assistant, busy_timeout_s: float = 90.0) -> None:
        self.assistant = assistant
        self.busy_timeout_s = busy_timeout_s
        self._lock = threading.Lock()

    def check_question(self, question: object) -> str:
        return validate_question(question, self.assistant.settings.max_question_chars)

    def stream(
        self,
        question: str,
        k: int | None = None,
        history: list[dict[str, Any]] | None = None,
        generator: str | None = None,
    ) -> Generator[str | Answer, None, None]:
        """Tokens, then the final ``Answer``; holds the answering lock while it runs."""
        self.check_question(question)
        if generator is not None and generator not in LOCAL_GENERATORS:
            raise InputError(f"generator must be one of {', '.join(LOCAL_GENERATORS)}, got {generator!r}.")
        if not self._lock.acquire(timeout=self.busy_timeout_s):
            raise BackendError(
                f"The assistant is busy answering another question (waited {self.busy_timeout_s:.0f}s); retry shortly."
            )
        try:
            yield from self._events(question, k, plain_history(history), generator)
        finally:
            self._lock.release()

    def ask(self, question: str, k: int | None = None, history: list | None = None, generator: str | None = None) -> Answer:
        final = None
        for event in self.stream(question, k=k, history=history, generator=generator):
            if isinstance(event, Answer):
                final = event
        if final is None:  # pragma: no cover - the core always ends with an Answer
            raise BackendError("The answering chain ended without an answer; see the server log.")
        return final

    def _events(self, question: str, k: int | None, history: list, generator: str | None) -> Iterator[str | Answer]:
        yield from self.assistant.stream(question, k=k, history=history, generator=generator)

    def prepare(self, generator: str | None) -> None:
        """Load a generator's model in the background (the chat calls this when it is picked)."""
        if not generator or generator not in LOCAL_GENERATORS or generator == self.assistant.settings.llm:
            return

        def load() -> None:
            # A failure here is reported by the question that needs the model.
            with contextlib.suppress(Exception):
                self.assistant.chat_model_for(generator)

        threading.Thread(target=load, name=f"load-{generator}", daemon=True).start()


# ----- uploads ----------------------------------------------------------------------
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


def human_bytes(n: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:,} {unit}" if unit == "bytes" else f"{n:.3g} {unit}"
        n /= 1000  # type: ignore[assignment]
    return f"{n} GB"


Progress = Callable[[float, str], None]


def ingest_uploads(
    assistant: Assistant, files: list[tuple[str, Path]], progress: Progress | None = None
) -> UploadReport:
    """Check, save under ``<index_dir>/uploads`` and ingest uploaded files.

    Args:
        files: ``(original name, temporary path)`` pairs.
        progress: called with (fraction done, description).
    """
    settings = assistant.settings
    folder = (Path(settings.index_dir) / "uploads").resolve()
    folder.mkdir(parents=True, exist_ok=True)
    report = UploadReport()
    known = {d["id"]: d.get("path") or "" for d in assistant.documents()}
    accepted: list[Path] = []
    for i, (original, tmp) in enumerate(files):
        if progress:
            progress(0.1 * i / max(1, len(files)), f"Checking {original}")
        display = PureWindowsPath(PurePosixPath(str(original)).name).name or "(no name)"
        safe = sanitise_filename(original)
        suffix = Path(safe).suffix.lower()
        if suffix not in UPLOAD_SUFFIXES:
            report.refused.append(
                {
                    "file": display,
                    "reason": f"unsupported file type {suffix or '(none)'!r}; upload {', '.join(UPLOAD_SUFFIXES)} files",
                }
            )
            continue
        try:
            size = Path(tmp).stat().st_size
            if size > settings.max_file_bytes:
                raise InputError(
                    f"{size:,} bytes is over the {settings.max_file_bytes:,}-byte limit; split the file"
                )
            _check_readable(Path(tmp), safe, settings.max_file_bytes)
        except InputError as exc:
            reason = str(exc)
            if reason.startswith("/") and ": " in reason:  # drop the temporary path
                reason = reason.split(": ", 1)[1]
            report.refused.append({"file": display, "reason": reason})
            continue
        except OSError as exc:
            report.refused.append({"file": display, "reason": f"cannot read the upload: {exc.strerror or exc}"})
            continue
        target = folder / safe
        doc_id = target.stem
        existing = known.get(doc_id)
        if existing and Path(existing).resolve() != target:
            report.refused.append(
                {"file": display, "reason": f"a document with id {doc_id!r} is already indexed from another file; rename the upload"}
            )
            continue
        if target in accepted:
            report.refused.append({"file": display, "reason": f"uploaded twice as {safe}; keep one"})
            continue
        shutil.copyfile(tmp, target)
        accepted.append(target)
        report.saved.append(safe)
    if not accepted:
        return report

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
        report.refused.append({"file": name, "reason": err["reason"]})
        (folder / name).unlink(missing_ok=True)
    if progress:
        progress(1.0, "Done")
    return report
