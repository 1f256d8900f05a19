"""Markdown files read as a reader sees them: Markdown's syntax out, its structure kept.

A ``.md`` file's characters are not what its reader reads: a paragraph may
run over several lines (Markdown joins them), "[Reuters](https://...)" reads
"Reuters", "**Port of Rotterdam**" reads "Port of Rotterdam". Kept as
written, answers quoted link targets and asterisks, and a paragraph wrapped at
80 columns was cut into line fragments at every line break. The file is parsed
by markdown-it (CommonMark, with tables) and written back as plain text in the
shape ``documents.parse_document`` reads: ``#`` headings, one paragraph per
line, ``- `` bullets, table rows as "cell | cell", code as it is; HTML
blocks by their text; images, HTML tags, scripts and YAML front matter are
dropped (a front matter ``title`` becomes the heading). As with PDF and HTML, that text is the document from then on:
citation offsets point into it and the index saves it.
"""

from __future__ import annotations

import re
from functools import lru_cache
from html.parser import HTMLParser

_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)", re.S)
_FRONT_TITLE = re.compile(r"^title:\s*[\"']?(.+?)[\"']?\s*$", re.M)
_SCRIPT_TAG = re.compile(r"</?(?:script|style)\b", re.I)


@lru_cache(maxsize=1)
def _parser():
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark").enable(["table", "strikethrough"])


def markdown_to_text(markdown: str) -> str:
    """The text a reader of ``markdown`` reads, one block per line (see the module docstring)."""
    body, title = _without_front_matter(markdown)
    tokens = _parser().parse(body)
    blocks: list[str] = [f"# {title}"] if title and not _has_top_heading(tokens) else []
    lists: list[list[int]] = []  # for each open list, [next number] (ordered) or [] (bullets)
    row: list[str] | None = None
    item_started = False
    for i, token in enumerate(tokens):
        kind = token.type
        if kind in ("bullet_list_open", "ordered_list_open"):
            lists.append([int(token.attrGet("start") or 1)] if kind == "ordered_list_open" else [])
        elif kind in ("bullet_list_close", "ordered_list_close"):
            lists.pop()
        elif kind == "list_item_open":
            item_started = True
        elif kind == "tr_open":
            row = []
        elif kind == "tr_close" and row is not None:
            blocks.append(" | ".join(row))
            row = None
        elif kind == "inline" and row is not None:
            row.append(_inline_text(token))
        elif kind == "inline":
            opener = tokens[i - 1]
            text = _inline_text(token).strip()
            if not text:
                continue
            if opener.type == "heading_open":
                blocks.append(f"{'#' * int(opener.tag[1])} {text}")
            elif lists:
                indent = "  " * (len(lists) - 1)
                if item_started:
                    marker = f"{lists[-1][0]}." if lists[-1] else "-"
                    if lists[-1]:
                        lists[-1][0] += 1
                    blocks.append(f"{indent}{marker} {text}")
                    item_started = False
                else:
                    blocks.append(f"{indent}  {text}")
            else:
                blocks.append(text)
        elif kind in ("fence", "code_block"):
            blocks.append(token.content.rstrip("\n"))
        elif kind == "html_block":
            blocks.extend(_html_text(token.content))
    return "\n\n".join(blocks).strip() + "\n"


def _inline_text(token) -> str:
    """An inline token's reading text: links by their text, images and HTML dropped, a soft
    line break (the source wrapped the paragraph) a space."""
    parts: list[str] = []
    in_script = False  # a script or style element's body is code, not text (tags are dropped anyway)
    for child in token.children or []:
        if child.type == "html_inline":
            if _SCRIPT_TAG.match(child.content):
                in_script = not child.content.startswith("</")
            continue
        # An image's alt text describes a picture (it is the image token's child, not a sibling).
        if child.type in ("text", "code_inline") and not in_script:
            parts.append(child.content)
        elif child.type == "softbreak":
            # "Swiss-" + "Liechtenstein": a hyphenated word the source wrapped at its hyphen.
            parts.append("" if parts and re.search(r"\w-$", parts[-1]) else " ")
        elif child.type == "hardbreak":
            parts.append("\n")
    return re.sub(r"[ \t]{2,}", " ", "".join(parts))


class _TextOfHtml(HTMLParser):
    """The text of an HTML fragment, one line per block element, without script or style bodies."""

    BREAKS = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "section", "article", "blockquote"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = [""]
        self.hidden = 0

    def handle_starttag(self, tag, attrs) -> None:
        if tag in ("script", "style"):
            self.hidden += 1
        elif tag in self.BREAKS:
            self.lines.append("")

    def handle_endtag(self, tag) -> None:
        if tag in ("script", "style"):
            self.hidden = max(0, self.hidden - 1)
        elif tag in self.BREAKS:
            self.lines.append("")

    def handle_data(self, data) -> None:
        if not self.hidden:
            self.lines[-1] += data


def _html_text(html: str) -> list[str]:
    """The text lines of an HTML block in a Markdown file (tags dropped, as a reader sees it)."""
    parser = _TextOfHtml()
    parser.feed(html)
    parser.close()
    return [" ".join(line.split()) for line in parser.lines if line.strip()]


def _without_front_matter(markdown: str) -> tuple[str, str | None]:
    """(the Markdown after a YAML front matter block, that block's title if it names one)."""
    found = _FRONT_MATTER.match(markdown)
    if not found:
        return markdown, None
    title = _FRONT_TITLE.search(found.group(1))
    return markdown[found.end():], title.group(1).strip() if title else None


def _has_top_heading(tokens) -> bool:
    return any(t.type == "heading_open" and t.tag == "h1" for t in tokens)
