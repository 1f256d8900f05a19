"""Antonyms from WordNet, so "won" is not taken as support for "lost".

Word overlap and sentence embeddings both score "exports rose" and "exports
fell" as near-identical. WordNet's antonym relation (Debian package
``wordnet-base``) catches such reversals for any vocabulary, where the list of
opposite verbs this replaced knew only the seeds'. Only the antonym pointers
are needed, so they are read straight from WordNet's documented data files
(wndb(5WN): ``!`` pointers, whose synset offsets are byte offsets into the
target file) and kept as a small JSON table in the user's cache: about 8,000
pairs, read in a few milliseconds after the first build.
"""

from __future__ import annotations

import json
import threading
from functools import lru_cache
from pathlib import Path

DEBIAN_WORDNET = Path("/usr/share/wordnet")
POS_FILES = {"n": "data.noun", "v": "data.verb", "a": "data.adj", "s": "data.adj", "r": "data.adv"}
CACHE = Path.home() / ".cache" / "assistant" / "wordnet-antonyms-v1.json"
_lock = threading.Lock()


def available() -> bool:
    """Whether the Debian WordNet files are installed (``make setup`` installs them)."""
    return all((DEBIAN_WORDNET / name).is_file() for name in set(POS_FILES.values()))


def antonyms(lemma: str) -> frozenset[str]:
    """Lower-case antonyms of ``lemma`` in any part of speech; empty without WordNet."""
    return _table().get(lemma.lower(), frozenset())


@lru_cache(maxsize=1)
def _table() -> dict[str, frozenset[str]]:
    with _lock:
        if CACHE.is_file():
            try:
                return {k: frozenset(v) for k, v in json.loads(CACHE.read_text()).items()}
            except (OSError, ValueError):
                pass  # rebuilt below
        if not available():
            return {}
        pairs = _read_pairs()
        try:
            CACHE.parent.mkdir(parents=True, exist_ok=True)
            CACHE.write_text(json.dumps({k: sorted(v) for k, v in pairs.items()}))
        except OSError:
            pass  # a read-only home still gets the table, just not cached
        return {k: frozenset(v) for k, v in pairs.items()}


def _read_pairs() -> dict[str, set[str]]:
    pairs: dict[str, set[str]] = {}
    handles = {name: (DEBIAN_WORDNET / name).open("rb") for name in set(POS_FILES.values())}
    try:
        for name in handles:
            for line in (DEBIAN_WORDNET / name).read_bytes().splitlines():
                if b" ! " not in line or line.startswith(b"  "):
                    continue
                words, pointers = _parse(line.decode("utf-8", "replace"))
                for target_offset, target_pos, source, target in pointers:
                    other = handles[POS_FILES[target_pos]]
                    other.seek(target_offset)
                    target_words, _ = _parse(other.readline().decode("utf-8", "replace"))
                    if source and target and source <= len(words) and target <= len(target_words):
                        a, b = words[source - 1], target_words[target - 1]
                        pairs.setdefault(a, set()).add(b)
                        pairs.setdefault(b, set()).add(a)
    finally:
        for handle in handles.values():
            handle.close()
    return pairs


def _parse(line: str) -> tuple[list[str], list[tuple[int, str, int, int]]]:
    """(words, antonym pointers as (offset, pos, source word no., target word no.)) of one data line."""
    fields = line.split(" | ", 1)[0].split()
    count = int(fields[3], 16)
    words = [_clean(fields[4 + 2 * i]) for i in range(count)]
    at = 4 + 2 * count
    n_pointers = int(fields[at])
    pointers = []
    for i in range(n_pointers):
        symbol, offset, pos, source_target = fields[at + 1 + 4 * i: at + 5 + 4 * i]
        if symbol == "!":
            pointers.append((int(offset), pos, int(source_target[:2], 16), int(source_target[2:], 16)))
    return words, pointers


def _clean(word: str) -> str:
    """'lose' from 'lose', 'better' from 'better(a)'; multi-word lemmas with spaces."""
    return word.split("(", 1)[0].replace("_", " ").lower()
