"""Text out of PDF, HTML and DOCX files, with the structure the parser needs.

Each extractor returns plain text in which headings are written as Markdown
``#`` lines (or are lines the parser already knows, such as "What's happened"),
so ``documents.parse_document`` finds sections the same way for every format.
The extracted text *is* the document from then on: citation offsets point
into it and the index saves it as the copy the source viewer shows. Anything
an offset cannot carry (the PDF page, the HTML publication date) goes into
``metadata``; ``page_for_offset`` turns an offset back into a page number.

A file that yields no usable text is refused with an ``InputError`` naming the
file and the fix (an image-only PDF needs OCR; a page of navigation links has
no article), so ingest can report it and carry on with the rest of the folder.
"""

from __future__ import annotations

import bisect
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.errors import InputError

# Below this many words of body text, an HTML page is navigation or a stub.
MIN_HTML_WORDS = 25
# A PDF line at least this share of the page's longest line ran into the right
# margin, so the next line continues its paragraph.
WRAP_RATIO = 0.7
_ENDS_SENTENCE = re.compile(r"[.!?:;\"”’)\]]$")
_STARTS_BULLET = re.compile(r"^\s*(?:[•*·–—-]|\d+[.)])(?:\s|$)")
_PAGE_NUMBER = re.compile(r"^\s*(?:page\s+)?[-–—]?\s*\d{1,4}\s*(?:(?:/|of)\s*\d{1,4})?\s*[-–—]?\s*$", re.I)
_MD_EMPHASIS = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_MD_ITALIC = re.compile(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])")


@dataclass
class Extracted:
    """What an extractor found: the text to index, a title if the file names one, metadata."""

    text: str
    title: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


def page_for_offset(metadata: dict[str, Any] | None, offset: int) -> int | None:
    """The 1-based PDF page holding character ``offset`` of the extracted text.

    ``metadata["pages"]`` is ``[[start, end, page_no], ...]`` in text order.
    Returns None for documents without pages (not a PDF) or a negative
    offset; the blank lines between two pages count as the page before.

    Example:
        >>> page_for_offset({"pages": [[0, 100, 1], [102, 250, 2]]}, 120)
        2
    """
    pages = (metadata or {}).get("pages") or []
    if not pages or offset < 0:
        return None
    i = bisect.bisect_right([p[0] for p in pages], offset) - 1
    return int(pages[max(i, 0)][2])


def page_in_manifest(manifest: Any, doc_id: str, offset: int) -> int | None:
    """``page_for_offset`` for an indexed document, looked up in the index manifest."""
    entry = manifest.documents.get(doc_id) if manifest is not None else None
    return page_for_offset(entry.metadata if entry is not None else None, offset)


def check_size(path: Path, max_bytes: int) -> None:
    """Refuse an empty file or one over the size cap, naming the file and the fix."""
    size = path.stat().st_size
    if size == 0:
        raise InputError(f"{path}: the file is empty (0 bytes); add text to it or remove it.")
    if size > max_bytes:
        raise InputError(
            f"{path}: {size:,} bytes is over the {max_bytes:,}-byte limit; split the file "
            "or raise ASSISTANT_MAX_FILE_BYTES."
        )


# ----- PDF ---------------------------------------------------------------------


def extract_pdf(path: Path) -> Extracted:
    """Text of every page with its page span; refuses encrypted, damaged and image-only PDFs."""
    import logging

    from pypdf import PasswordType, PdfReader
    from pypdf.errors import FileNotDecryptedError, PdfReadError

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # its warnings about odd PDFs are noise here
    data = path.read_bytes()
    if not data.lstrip().startswith(b"%PDF"):
        raise InputError(f"{path}: not a PDF (no %PDF header); check the file or its extension.")
    if b"%%EOF" not in data[-2048:]:
        raise InputError(
            f"{path}: the PDF is truncated (no end-of-file marker); download or export it again."
        )
    try:
        reader = PdfReader(path, strict=False)
        if reader.is_encrypted:
            try:  # owner-password-only PDFs open with an empty user password
                opened = reader.decrypt("") != PasswordType.NOT_DECRYPTED
            except Exception:
                opened = False
            if not opened:
                raise InputError(
                    f"{path}: the PDF is encrypted with a password; save an unencrypted copy "
                    "(e.g. print to PDF) and ingest that."
                )
        raw_pages = [page.extract_text() or "" for page in reader.pages]
    except InputError:
        raise
    except FileNotDecryptedError:
        raise InputError(
            f"{path}: the PDF is encrypted with a password; save an unencrypted copy and ingest that."
        ) from None
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise InputError(f"{path}: cannot read the PDF ({exc}); it may be damaged or truncated.") from None
    if not raw_pages:
        raise InputError(f"{path}: the PDF has no pages.")
    page_lines = _drop_running_lines([_clean_lines(t) for t in raw_pages])
    parts: list[str] = []
    pages: list[list[int]] = []
    pos = 0
    for number, lines in enumerate(page_lines, start=1):
        text = "\n".join(_unwrap(lines))
        if not text.strip():
            continue
        if parts:
            parts.append("\n\n")
            pos += 2
        pages.append([pos, pos + len(text), number])
        parts.append(text)
        pos += len(text)
    full = "".join(parts)
    if len(re.findall(r"\w+", full)) < 3:
        raise InputError(
            f"{path}: the PDF has no text layer ({len(raw_pages)} page(s) of images, e.g. a scan); "
            "run OCR on it first (e.g. `ocrmypdf in.pdf out.pdf`) and ingest the result."
        )
    title = None
    try:
        info = reader.metadata
        title = (info.title or "").strip() if info else None
    except Exception:
        title = None
    return Extracted(full, title or None, {"format": "pdf", "pages": pages, "page_count": len(raw_pages)})


def _clean_lines(text: str) -> list[str]:
    text = text.replace("\x00", "").replace("\u00ad", "")
    return [" ".join(line.split()) for line in text.splitlines() if line.strip()]


def _drop_running_lines(pages: list[list[str]]) -> list[list[str]]:
    """Remove page numbers and headers/footers repeated at the top or bottom of most pages."""

    def key(line: str) -> str:
        return re.sub(r"\d+", "#", line.lower())

    edges: Counter[str] = Counter()
    for lines in pages:
        for line in {*lines[:2], *lines[-2:]}:
            edges[key(line)] += 1
    repeated = {k for k, n in edges.items() if len(pages) >= 3 and n >= max(3, len(pages) // 2 + 1)}
    out = []
    for lines in pages:
        kept = []
        for i, line in enumerate(lines):
            at_edge = i < 2 or i >= len(lines) - 2
            if at_edge and (_PAGE_NUMBER.match(line) or key(line) in repeated):
                continue
            kept.append(line)
        out.append(kept)
    return out


def _unwrap(lines: list[str]) -> list[str]:
    """Join lines the PDF wrapped at the margin back into paragraph lines.

    A line that reached (almost) the longest line's width and does not end a
    sentence continues on the next line; short lines (headings, last lines of
    paragraphs) and bullets stay on their own.
    """
    if not lines:
        return []
    width = max(len(line) for line in lines)
    out: list[str] = []
    current = ""
    for i, line in enumerate(lines):
        if current and not _STARTS_BULLET.match(line):
            current = current + line if current.endswith("-") else f"{current} {line}"
        else:
            if current:
                out.append(current)
            current = line
        following = lines[i + 1] if i + 1 < len(lines) else ""
        # "...many are asking:" + "why now?" is one sentence: a lower-case start continues.
        continues = not _ENDS_SENTENCE.search(line) or following[:1].islower()
        if not (len(line) >= WRAP_RATIO * width and continues):
            out.append(current)
            current = ""
    if current:
        out.append(current)
    return out


# ----- HTML --------------------------------------------------------------------


def extract_html(path: Path) -> Extracted:
    """The article of a web page (trafilatura): navigation, ads and footers removed."""
    import trafilatura

    data = path.read_bytes()
    try:
        doc = trafilatura.bare_extraction(
            data,
            output_format="python",
            with_metadata=True,
            include_comments=False,
            include_tables=True,
            include_images=False,
            include_links=False,
        )
        markdown = trafilatura.extract(
            data,
            output_format="markdown",
            include_comments=False,
            include_tables=True,
            include_images=False,
            include_links=False,
        )
    except Exception as exc:  # lxml and charset failures of malformed pages
        raise InputError(f"{path}: cannot parse the HTML ({type(exc).__name__}: {exc}).") from None
    text = _clean_markdown(markdown or "")
    words = len(re.findall(r"\w+", re.sub(r"^#+\s.*$", "", text, flags=re.M)))
    longest = max((len(line.split()) for line in text.splitlines()), default=0)
    if words < MIN_HTML_WORDS or longest < 8:
        raise InputError(
            f"{path}: no article text found in the page ({words} words after removing navigation "
            "and boilerplate); save the article itself, or its text as .txt."
        )
    title = getattr(doc, "title", None) if doc is not None else None
    date = getattr(doc, "date", None) if doc is not None else None
    metadata: dict[str, Any] = {"format": "html"}
    for name in ("author", "sitename", "url", "description"):
        value = getattr(doc, name, None) if doc is not None else None
        if value:
            metadata[name] = value
    if date:
        metadata["published"] = date
    if title and not text.lstrip().startswith("# "):
        # The title is not in the extracted text: add it as the title line so
        # the parser, the chunks and the viewer all see it.
        text = f"# {title}\n\n{text}"
    return Extracted(text, title or None, metadata)


def _clean_markdown(text: str) -> str:
    """Keep Markdown headings and bullets; drop inline emphasis markers, which are not source text."""
    text = _MD_EMPHASIS.sub(r"\2", text)
    text = _MD_ITALIC.sub(r"\1", text)
    lines = [line.rstrip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip() + "\n"


# ----- DOCX --------------------------------------------------------------------


def extract_docx(path: Path) -> Extracted:
    """Paragraphs and tables of a Word file in order; Title/Heading styles become ``#`` headings."""
    import zipfile

    import docx
    from docx.opc.exceptions import PackageNotFoundError
    from docx.table import Table

    try:
        document = docx.Document(str(path))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError):
        raise InputError(
            f"{path}: not a readable .docx (the zip package is damaged or truncated, or it is "
            "another format renamed); re-save it from Word or LibreOffice."
        ) from None
    except Exception as exc:
        raise InputError(f"{path}: cannot read the .docx ({type(exc).__name__}: {exc}).") from None
    lines: list[str] = []
    has_title_style = False
    for item in document.iter_inner_content():
        if isinstance(item, Table):
            for row in item.rows:
                cells = [" ".join(c.text.split()) for c in row.cells]
                unique = [c for i, c in enumerate(cells) if c and c not in cells[:i]]
                if unique:
                    lines.append(" | ".join(unique))
            continue
        text = " ".join(item.text.split())
        if not text:
            continue
        style = (item.style.name if item.style is not None else "") or ""
        has_title_style = has_title_style or style.lower() == "title"
        lines.append(_docx_line(text, style))
    text = "\n".join(lines)
    if len(re.findall(r"\w+", text)) < 3:
        raise InputError(f"{path}: the .docx has no text (only images or empty paragraphs).")
    # A Title-styled paragraph is what the reader sees; the file property is
    # often a stale template name, so it only fills in when there is none.
    title = None if has_title_style else (document.core_properties.title or "").strip() or None
    return Extracted(text + "\n", title, {"format": "docx"})


def _docx_line(text: str, style: str) -> str:
    name = style.lower()
    if name == "title":
        return f"# {text}"
    match = re.match(r"heading (\d)", name)
    if match:
        return "#" * min(6, int(match.group(1)) + 1) + " " + text
    if name.startswith("list") and not _STARTS_BULLET.match(text):
        return f"- {text}"
    return text


EXTRACTORS: dict[str, Callable[[Path], Extracted]] = {
    ".pdf": extract_pdf,
    ".html": extract_html,
    ".htm": extract_html,
    ".docx": extract_docx,
}
FORMAT_SUFFIXES = tuple(EXTRACTORS)


def extract(path: Path, max_bytes: int) -> Extracted:
    """Extract ``path`` with the extractor for its suffix.

    Raises:
        InputError: naming the file and the reason it yields no usable text.
    """
    extractor = EXTRACTORS.get(path.suffix.lower())
    if extractor is None:
        raise InputError(f"{path}: no extractor for {path.suffix!r}; supported: {', '.join(FORMAT_SUFFIXES)}")
    check_size(path, max_bytes)
    return extractor(path)
