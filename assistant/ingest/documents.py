"""Load ``.txt``/``.md`` files (and PDF/HTML/DOCX via ``formats``) and parse news-style structure.

The parser never rewrites text: every block is a ``(start, end)`` span of the
original file, so citations can point at exact byte-for-byte source text.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.errors import InputError
from assistant.ingest.formats import FORMAT_SUFFIXES, check_size, extract
from assistant.ingest.markdown_text import markdown_to_text
from assistant.ingest.unwrap import unwrap_hard_wrapped
from assistant.text.dates import find_dates, is_dateline

MARKDOWN_SUFFIXES = (".md", ".markdown")
TEXT_SUFFIXES = (".txt", *MARKDOWN_SUFFIXES)
SUPPORTED_SUFFIXES = TEXT_SUFFIXES + FORMAT_SUFFIXES

# Section headings these explainer/news pages use. Matching is on a
# normalised form (lower case, straight apostrophes, no trailing "?:").
KNOWN_HEADINGS = {
    "overview",
    "what's happened",
    "what's behind the headline",
    "what the papers say",
    "how we got here",
    "go deeper",
    "common question",
    "common questions",
    "more on these topics",
    "what's next",
    "key points",
    "background",
    "summary",
}
_BOILERPLATE = re.compile(
    r"^(download on the app store|get it on google play|available on the app store|"
    r"sign up|subscribe( now)?|share( this)?|advertisement|read more|-|–|—|•)$",
    re.IGNORECASE,
)
# An embedded video's card: its title, its running time and a credit ("... fuel crisis 05:11 - Source: CNNI").
_VIDEO_CARD = re.compile(r"\b\d{1,2}:\d{2}(:\d{2})?\s*[-–—]\s*Source:\s*[\w .&'-]{1,40}$", re.IGNORECASE)
_SITE_NAME = re.compile(r"^[\w-]+(\.[\w-]+)*\.(news|com|org|net|co|io|info)$", re.IGNORECASE)
_CAPTION = re.compile(
    r"(\((AP|AFP|Reuters|Getty|EPA)[^)]*(Photo|Images)[^)]*\)|REUTERS/|Getty Images|/File Photo|Photo:)",
    re.IGNORECASE,
)
_BULLET = re.compile(r"^\s*(?:[•*·–—-]|\d+[.)])\s+")
_MD_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")


@dataclass(frozen=True)
class Block:
    """One line-level unit of a document: a span of the original text."""

    kind: str  # title | heading | subheading | paragraph | bullet | caption | boilerplate
    start: int
    end: int
    section: str


@dataclass
class Document:
    """A parsed source file. ``text`` is the file's full, unmodified text."""

    id: str
    title: str
    path: str
    text: str
    blocks: list[Block]
    metadata: dict = field(default_factory=dict)

    @property
    def content_hash(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    @property
    def sections(self) -> list[str]:
        seen: dict[str, None] = {}
        for block in self.blocks:
            if block.kind not in ("boilerplate", "title"):
                seen.setdefault(block.section, None)
        return list(seen)

    def content_blocks(self) -> list[Block]:
        """Blocks worth embedding: no boilerplate, no bare headings."""
        return [b for b in self.blocks if b.kind not in ("boilerplate", "heading", "subheading")]


def normalise_heading(line: str) -> str:
    text = line.strip().strip("#").strip().lower()
    text = text.replace("\u2019", "'").replace("\u2018", "'")
    return text.rstrip("?:. ").strip()


def _lines(text: str) -> Iterator[tuple[int, int]]:
    """Yield (start, end) of each non-blank line, with surrounding spaces trimmed."""
    pos = 0
    for raw in text.splitlines(keepends=True):
        line_start, line_end = pos, pos + len(raw.rstrip("\r\n"))
        pos += len(raw)
        stripped = text[line_start:line_end]
        if not stripped.strip():
            continue
        lead = len(stripped) - len(stripped.lstrip())
        trail = len(stripped) - len(stripped.rstrip())
        yield line_start + lead, line_end - trail


def _looks_like_subheading(line: str, next_line: str | None) -> bool:
    """Short title-like line followed by a longer paragraph, e.g. 'Broader Implications'."""
    if next_line is None or len(next_line) <= len(line):
        return False
    if line.endswith("?") and len(line) <= 120:
        return True  # a question used as a heading ("Common question" pages)
    if len(line) > 80 or len(line.split()) > 10:
        return False
    if line.endswith((".", ",", ";", ":")) or _BULLET.match(line):
        return False
    words = [w for w in re.findall(r"[A-Za-z][\w'’-]*", line)]
    if not words:
        return False
    capitalised = sum(1 for w in words if w[0].isupper())
    return capitalised / len(words) >= 0.5 and len(next_line) > len(line) * 1.5


def parse_document(text: str, doc_id: str, path: str = "") -> Document:
    """Split ``text`` into typed blocks with sections, title, dates and questions."""
    spans = list(_lines(text))
    blocks: list[Block] = []
    title = ""
    section = "Body"
    top_section = "Body"
    seen_heading = False
    for i, (start, end) in enumerate(spans):
        line = text[start:end]
        next_line = text[spans[i + 1][0] : spans[i + 1][1]] if i + 1 < len(spans) else None
        md = _MD_HEADING.match(line)
        norm = normalise_heading(line)
        if (_BOILERPLATE.match(line.strip()) or _VIDEO_CARD.search(line)
                or (not seen_heading and not title and _SITE_NAME.match(line))):
            kind = "boilerplate"
        elif md and len(md.group(1)) == 1 and not title and not seen_heading:
            kind, title = "title", md.group(2)
        elif norm in KNOWN_HEADINGS or md:
            kind = "heading"
            seen_heading = True
            top_section = md.group(2) if md else line.strip()
            section = top_section
        elif not title and not seen_heading and _looks_like_title(line):
            kind, title = "title", line.strip()
        elif _CAPTION.search(line):
            kind = "caption"
        elif _BULLET.match(line):
            kind = "bullet"
        elif seen_heading and _looks_like_subheading(line, next_line):
            kind = "subheading"
            section = f"{top_section} / {line.strip()}"
        else:
            kind = "paragraph"
        block_section = "Photo captions" if kind == "caption" else section
        if kind == "title":
            block_section = "Title"
        elif kind == "paragraph" and not seen_heading and title and section == "Body":
            block_section = "Lede"
        blocks.append(Block(kind, start, end, block_section))
    if not title:
        title = _fallback_title(text, blocks, doc_id)
    metadata: dict[str, Any] = {
        "dates": [d.as_dict() for d in find_dates(text)],
        "suggested_questions": _go_deeper_questions(text, blocks),
    }
    newest = max((d["iso"] for d in metadata["dates"]), default=None)
    metadata["newest_date"] = newest
    published = _dateline(text, metadata["dates"])
    if published:
        metadata["published"] = published
    return Document(id=doc_id, title=title, path=path, text=text, blocks=blocks, metadata=metadata)


# A dateline is a short line ("Published November 2, 2021", "Updated 3:04 PM EDT, July 12, 2022")
# among a news page's first few lines.
DATELINE_LINES = 3
DATELINE_MAX_WORDS = 10


def _dateline(text: str, dates: list[dict[str, Any]]) -> str | None:
    """The ISO date of the document's dateline, when one of its first lines is a short line
    holding a date: when a news article was published, and so the year its events belong to."""
    for n, (start, end) in enumerate(_lines(text)):
        if n >= DATELINE_LINES:
            break
        if len(text[start:end].split()) > DATELINE_MAX_WORDS:
            continue
        inside = [d for d in dates if start <= d["start"] and d["end"] <= end]
        if inside:
            return str(inside[0]["iso"])
    return None


def _looks_like_title(line: str) -> bool:
    stripped = line.strip()
    return (10 <= len(stripped) <= 160 and not stripped.endswith((".", ":", ";")) and not _BULLET.match(stripped)
            and not is_dateline(stripped))


def _fallback_title(text: str, blocks: list[Block], doc_id: str) -> str:
    for block in blocks:
        if block.kind == "paragraph" and not is_dateline(text[block.start : block.end]):
            sentence = re.split(r"(?<=[.!?])\s", text[block.start : block.end], maxsplit=1)[0]
            return sentence if len(sentence) <= 90 else sentence[:87].rsplit(" ", 1)[0] + "…"
    return doc_id


def _go_deeper_questions(text: str, blocks: list[Block]) -> list[str]:
    questions = []
    for block in blocks:
        if block.kind == "bullet" and normalise_heading(block.section) == "go deeper":
            line = _BULLET.sub("", text[block.start : block.end]).strip()
            if line.endswith("?"):
                questions.append(line)
    return questions


def read_text_file(path: Path, max_bytes: int) -> str:
    """Read a UTF-8 text file, refusing what cannot be a text document."""
    check_size(path, max_bytes)
    data = path.read_bytes()
    if b"\x00" in data[:8192]:
        raise InputError(f"{path}: looks like a binary file (NUL bytes); only UTF-8 text is supported.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{path}: not valid UTF-8 (byte {exc.start}); re-save the file as UTF-8."
        ) from None
    if not text.strip():
        raise InputError(f"{path}: contains only whitespace; add text to it or remove it.")
    return text


def read_plain_text(path: Path, max_bytes: int) -> str:
    """A ``.txt``/``.md`` file's text as the index keeps it.

    Markdown as its reader reads it (``markdown_text.markdown_to_text``: syntax out, paragraphs
    on one line); plain text as written, or with the paragraphs of a hard-wrapped file joined
    back onto one line each (``unwrap.unwrap_hard_wrapped``).
    """
    text = read_text_file(path, max_bytes)
    if path.suffix.lower() not in MARKDOWN_SUFFIXES:
        return unwrap_hard_wrapped(text)
    read = markdown_to_text(text)
    if not read.strip():
        raise InputError(f"{path}: the Markdown has no text a reader would see (only images, links without "
                         "text or HTML without text); add its text, or save the page as .html.")
    return read


def document_id_for(path: Path) -> str:
    """The contract: a document's id is its file stem."""
    return path.stem


def iter_source_files(paths: Iterable[str | Path]) -> tuple[list[Path], list[tuple[str, str]]]:
    """Expand files and folders (recursively) into supported files.

    Returns:
        (files, errors) where errors are ``(path, reason)`` for refused entries.

    Raises:
        InputError: when a path does not exist, or nothing at all was given.
    """
    files: list[Path] = []
    errors: list[tuple[str, str]] = []
    given = list(paths)
    if not given:
        raise InputError("No path given; pass a file or folder, e.g. `assistant ingest seeds/`.")
    for raw in given:
        path = Path(raw)
        if not path.exists():
            raise InputError(f"{raw}: no such file or folder; check the path.")
        if path.is_dir():
            visited: set[Path] = set()
            for candidate in sorted(_walk(path, visited, errors)):
                files.append(candidate)
        elif path.suffix.lower() in SUPPORTED_SUFFIXES:
            files.append(path)
        else:
            errors.append((str(path), _unsupported(path)))
    return files, errors


def _unsupported(path: Path) -> str:
    return (
        f"unsupported file type {path.suffix or '(none)'!r}; supported: "
        + ", ".join(SUPPORTED_SUFFIXES)
    )


def _walk(folder: Path, visited: set[Path], errors: list[tuple[str, str]]) -> Iterator[Path]:
    real = folder.resolve()
    if real in visited:  # symlink loop
        errors.append((str(folder), "symlink loop; skipped"))
        return
    visited.add(real)
    for child in sorted(folder.iterdir()):
        if child.name.startswith("."):
            continue
        if child.is_dir():
            yield from _walk(child, visited, errors)
        elif child.suffix.lower() in SUPPORTED_SUFFIXES:
            yield child
        elif child.is_file():
            errors.append((str(child), _unsupported(child)))


def load_documents(
    paths: Iterable[str | Path], max_bytes: int = 20_000_000
) -> tuple[list[Document], list[tuple[str, str]]]:
    """Load and parse every supported file under ``paths``.

    Bad files are reported in the returned errors, never raised, so one bad file
    does not stop a folder from being ingested.
    """
    files, errors = iter_source_files(paths)
    docs: list[Document] = []
    seen_ids: dict[str, Path] = {}
    for path in files:
        doc_id = document_id_for(path)
        try:
            doc = read_document(path, doc_id, max_bytes)
        except InputError as exc:
            errors.append((str(path), str(exc)))
            continue
        except OSError as exc:
            errors.append((str(path), f"cannot read: {exc.strerror or exc}"))
            continue
        if doc_id in seen_ids:
            errors.append(
                (str(path), f"duplicate document id {doc_id!r} (also {seen_ids[doc_id]}); rename one file")
            )
            continue
        seen_ids[doc_id] = path
        docs.append(doc)
    return docs, errors


def read_document(path: Path, doc_id: str, max_bytes: int = 20_000_000) -> Document:
    """Parse one file: text files as they are, PDF/HTML/DOCX through ``formats``.

    For an extracted format, ``Document.text`` is the extracted text (offsets
    and the saved copy refer to it) and the extractor's metadata (PDF page
    spans, HTML title and publication date) is merged into ``metadata``.

    Raises:
        InputError: the file is refused, with a message naming it.
    """
    if path.suffix.lower() not in FORMAT_SUFFIXES:
        return parse_document(read_plain_text(path, max_bytes), doc_id, str(path))
    try:
        extracted = extract(path, max_bytes)
    except (InputError, OSError):
        raise
    except Exception as exc:  # a parser library failing on a malformed file
        raise InputError(
            f"{path}: could not extract text ({type(exc).__name__}: {exc}); the file may be damaged."
        ) from None
    doc = parse_document(extracted.text, doc_id, str(path))
    if extracted.title:
        doc.title = extracted.title
    doc.metadata.update(extracted.metadata)
    published = extracted.metadata.get("published")
    if published and published > (doc.metadata.get("newest_date") or ""):
        doc.metadata["newest_date"] = published
    return doc
