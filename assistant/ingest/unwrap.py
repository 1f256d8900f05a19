"""Hard-wrapped plain text (lines cut at a margin, e.g. 72 columns) joined back into paragraph lines.

Everything downstream reads a line break as the end of a sentence: news pages
written one paragraph per line put one on each line. A ``.txt`` wrapped at a
margin (e-mail, mailing-list archives, Project Gutenberg, RFCs, ``textwrap``
output) would then be cut into line fragments: "How long is the Rhine?" cited
"century.[note 7] The "total length of the Rhine", to the inclusion of". Such a file is joined back, as PDF text
already is (``formats._unwrap``); the joined text is the document from then
on (offsets point into it, the index saves it). A file that is not wrapped
is returned unchanged, so its offsets still point into the file itself.
"""

from __future__ import annotations

import re

# A line at least this share of the margin (the typical length of a line the next one
# continues) reached it, so the next line continues its paragraph.
MARGIN_RATIO = 0.7
# Wrapped: at least this share of the lines reach the margin in mid-sentence and go on
# below (one-paragraph-per-line text almost never does: its lines end with a full stop).
WRAPPED_SHARE = 0.3
MIN_WRAPPED_LINES = 3

_ENDS_SENTENCE = re.compile(r"[.!?:;\"”’)\]]\s*$")
# Lines that start a block of their own: a bullet, a Markdown heading, quote or table row.
_STARTS_BLOCK = re.compile(r"^\s*(?:[•*·–—-]\s|\d+[.)]\s|#|>|\|)")
_FENCE = re.compile(r"^\s*(```|~~~)")
# Lines laid out by hand, which keep their line breaks: indented code or centred text, a row of
# a table drawn with bars, a rule or a heading's underline ("=====", "---+---").
_LAID_OUT = re.compile(r"^(?: {4}|\t)|\|.*\||^[\s=+_*~#|.:-]+$")


def unwrap_hard_wrapped(text: str) -> str:
    """``text`` with its wrapped paragraphs on one line each, or ``text`` itself when not wrapped."""
    lines = text.replace("\r\n", "\n").split("\n")
    margin = _margin(lines)
    if not margin or not _is_wrapped(lines, margin):
        return text
    # (Markdown is not read here: markdown_text joins its paragraphs as CommonMark says.)
    out: list[str] = []
    fenced = False
    for i, line in enumerate(lines):
        if _FENCE.match(line):
            fenced = not fenced
        joins_previous = bool(out) and not fenced and i > 0 and _wraps(lines[i - 1], line, margin)
        if joins_previous and not _FENCE.match(line):
            previous, piece = out[-1], line.strip()
            # "Swiss-" + "Liechtenstein": the margin split a hyphenated word.
            out[-1] = previous + piece if previous.endswith("-") else f"{previous} {piece}"
        else:
            out.append(line)
    return "\n".join(out)


def _margin(lines: list[str]) -> int:
    """The typical length of a line the next line continues: in a wrapped text, the wrap width.

    The median of lines followed by more text; one-paragraph-per-line text gets a long one
    (its paragraphs), and table rows and code, which may run past the margin, are not counted.
    """
    lengths = sorted(len(line.rstrip()) for line, following in zip(lines, lines[1:], strict=False)
                     if line.strip() and following.strip() and not _LAID_OUT.search(line) and not _FENCE.match(line))
    return lengths[len(lengths) // 2] if len(lengths) >= MIN_WRAPPED_LINES else 0


def _wraps(line: str, following: str, margin: int) -> bool:
    """Whether ``following`` continues ``line``'s paragraph: ``line`` reached the margin and
    ``following`` is more text (not blank, not a bullet, heading, quote, nor laid out by hand)."""
    return (len(line.rstrip()) >= MARGIN_RATIO * margin and bool(following.strip())
            and not _STARTS_BLOCK.match(following) and not line.lstrip().startswith("#")
            and not _LAID_OUT.search(line) and not _LAID_OUT.search(following))


def _is_wrapped(lines: list[str], margin: int) -> bool:
    body = [line for line in lines if line.strip() and not _LAID_OUT.search(line)]
    mid_sentence = sum(
        1 for line, following in zip(lines, lines[1:], strict=False)
        if _wraps(line, following, margin) and not _ENDS_SENTENCE.search(line)
    )
    return mid_sentence >= max(MIN_WRAPPED_LINES, WRAPPED_SHARE * len(body))
