"""Reading Debian's WordNet files (``wordnet-base``) and caching what is built from them.

WordNet's data files are documented in wndb(5WN): one synset a line, its words,
then pointers (``!`` antonym, ``+`` derivational form, ...) whose synset offsets
are byte offsets into the target file. ``antonyms.py``, ``related_words.py`` and
``places.py`` each build a small table from them once per machine and keep it as
JSON in the user's cache.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

DEBIAN_WORDNET = Path("/usr/share/wordnet")
_lock = threading.Lock()


def data_line(line: str, symbol: str) -> tuple[list[str], list[tuple[int, str, int, int]]]:
    """(words, ``symbol`` pointers as (offset, pos, source word no., target word no.)) of one data line.

    Word number 0 means the pointer is between the synsets as wholes.
    """
    fields = line.split(" | ", 1)[0].split()
    count = int(fields[3], 16)
    words = [clean(fields[4 + 2 * i]) for i in range(count)]
    at = 4 + 2 * count
    pointers = []
    for i in range(int(fields[at])):
        kind, offset, pos, source_target = fields[at + 1 + 4 * i: at + 5 + 4 * i]
        if kind == symbol:
            pointers.append((int(offset), pos, int(source_target[:2], 16), int(source_target[2:], 16)))
    return words, pointers


def clean(word: str) -> str:
    """'lose' from 'lose', 'better' from 'better(a)'; multi-word lemmas with spaces."""
    return word.split("(", 1)[0].replace("_", " ").lower()


def cached_json(path: Path, build: Callable[[], dict[str, Any] | None]) -> dict[str, Any]:
    """The JSON table at ``path``, built by ``build`` (None: WordNet is missing) and saved when absent.

    A corrupt cache is rebuilt; a read-only home still gets the table, just not cached.
    """
    with _lock:
        if path.is_file():
            try:
                return dict(json.loads(path.read_text()))
            except (OSError, ValueError):
                pass  # rebuilt below
        table = build()
        if table is None:
            return {}
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(table))
        except OSError:
            pass
        return table
