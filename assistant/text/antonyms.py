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

from functools import lru_cache
from pathlib import Path

from assistant.text.wordnet import DEBIAN_WORDNET, cached_json, data_line

POS_FILES = {"n": "data.noun", "v": "data.verb", "a": "data.adj", "s": "data.adj", "r": "data.adv"}
CACHE = Path.home() / ".cache" / "assistant" / "wordnet-antonyms-v1.json"


def available() -> bool:
    """Whether the Debian WordNet files are installed (``make setup`` installs them)."""
    return all((DEBIAN_WORDNET / name).is_file() for name in set(POS_FILES.values()))


def antonyms(lemma: str) -> frozenset[str]:
    """Lower-case antonyms of ``lemma`` in any part of speech; empty without WordNet."""
    return _table().get(lemma.lower(), frozenset())


@lru_cache(maxsize=1)
def _table() -> dict[str, frozenset[str]]:
    def build() -> dict[str, list[str]] | None:
        return {k: sorted(v) for k, v in _read_pairs().items()} if available() else None

    return {k: frozenset(v) for k, v in cached_json(CACHE, build).items()}


def _read_pairs() -> dict[str, set[str]]:
    pairs: dict[str, set[str]] = {}
    handles = {name: (DEBIAN_WORDNET / name).open("rb") for name in set(POS_FILES.values())}
    try:
        for name in handles:
            for line in (DEBIAN_WORDNET / name).read_bytes().splitlines():
                if b" ! " not in line or line.startswith(b"  "):
                    continue
                words, pointers = data_line(line.decode("utf-8", "replace"), "!")
                for target_offset, target_pos, source, target in pointers:
                    other = handles[POS_FILES[target_pos]]
                    other.seek(target_offset)
                    target_words, _ = data_line(other.readline().decode("utf-8", "replace"), "!")
                    if source and target and source <= len(words) and target <= len(target_words):
                        a, b = words[source - 1], target_words[target - 1]
                        pairs.setdefault(a, set()).add(b)
                        pairs.setdefault(b, set()).add(a)
    finally:
        for handle in handles.values():
            handle.close()
    return pairs

