"""Places WordNet says a place is part of: "Beijing" is part of "China".

News writes a capital for its government ("quotas quietly issued by Beijing"),
so a claim about China is supported by a span about Beijing; a claim about
Beijing is not supported by one about China (the claim would be more specific
than its source). WordNet's location nouns (lexicographer file 15) carry part
holonym pointers (``#p``, wndb(5WN)) from a city to its country or region and
from a region to its country, for any place it knows, where a list would know
only the capitals somebody thought of. Read from Debian's ``wordnet-base``
files once, then kept as a JSON table in the user's cache (like
``related_words``); without WordNet no place contains another.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from assistant.text.wordnet import DEBIAN_WORDNET, cached_json, data_line

CACHE = Path.home() / ".cache" / "assistant" / "wordnet-places-v1.json"
LOCATIONS = "15"  # WordNet's lexicographer file of location nouns
LEVELS = 2  # Beijing -> China; a district -> its city -> its country


@lru_cache(maxsize=4096)
def containing_places(name: str) -> frozenset[str]:
    """Lower-case names of the places ``name`` is part of (empty when WordNet knows none)."""
    joined = _table().get(" ".join(name.lower().split()))
    return frozenset(joined.split("|")) if joined else frozenset()


@lru_cache(maxsize=1)
def _table() -> dict[str, str]:
    def build() -> dict[str, str] | None:
        data = DEBIAN_WORDNET / "data.noun"
        if not data.is_file():
            return None
        return {name: "|".join(sorted(places)) for name, places in _read_places(data).items()}

    return cached_json(CACHE, build)


def _read_places(data: Path) -> dict[str, set[str]]:
    synsets: dict[int, tuple[list[str], list[int]]] = {}
    for raw in data.read_bytes().splitlines():
        line = raw.decode("utf-8", "replace")
        if line.startswith("  ") or line.split(maxsplit=2)[1] != LOCATIONS:
            continue  # the licence header, or not a place
        words, pointers = data_line(line, "#p")
        synsets[int(line.split(maxsplit=1)[0])] = (words, [offset for offset, _, _, _ in pointers])
    table: dict[str, set[str]] = {}
    for words, parts in synsets.values():
        found: set[str] = set()
        level = parts
        for _ in range(LEVELS):
            found.update(w for offset in level for w in synsets.get(offset, ([], []))[0])
            level = [p for offset in level for p in synsets.get(offset, ([], []))[1]]
        for word in words:
            if found - {word}:
                table.setdefault(word, set()).update(found - {word})
    return table
