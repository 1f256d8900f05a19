"""Words WordNet relates to a word: its synonyms and its derivational forms.

"Sleep-deprived people produce fewer antibodies" is supported by "sleep
deprivation ... lower antibody production": the judge's lemma coverage must see
"produce" in "production" and "deprive" in "deprivation". WordNet links a
word's senses to their synonyms (the other words of each synset) and, by its
``+`` pointers, to derivationally related forms (wndb(5WN)); any vocabulary is
covered, where a list would know only the words somebody thought of. Only a
word's two most frequent senses are read (WordNet orders senses by frequency),
so rare senses ("produce" as "green groceries") add little noise. Read from
Debian's ``wordnet-base`` files (``make setup`` installs them) once, then kept
as a JSON table in the user's cache (5.5 MB of "word": "a|b|c", read in ~30 ms;
each word's set is built when first asked for); without WordNet no word has relatives.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from assistant.text.wordnet import DEBIAN_WORDNET, cached_json, data_line

CACHE = Path.home() / ".cache" / "assistant" / "wordnet-related-v2.json"
SENSES = 2  # the most frequent senses of a word whose relatives count
_POS_FILES = {"n": "noun", "v": "verb", "a": "adj", "r": "adv"}


@lru_cache(maxsize=16384)
def related(lemma: str) -> frozenset[str]:
    """Lower-case synonyms and derivational forms of ``lemma`` (spaces in multi-word ones)."""
    joined = _table().get(lemma.lower())
    return frozenset(joined.split("|")) if joined else frozenset()


#: Letters a derivational form shares with its word ("smuggl-er", "smuggl-e"; "crisis" and
#: "critical", WordNet relatives, share three).
SAME_WORD_PREFIX = 4


def same_word_forms(lemma: str) -> list[str]:
    """WordNet's one-word relatives of ``lemma`` that are forms of the same word, not synonyms
    ("slow" for "slowly", "smuggler" for "smuggle"; not "business" for "occupation")."""
    return [w for w in related(lemma)
            if " " not in w and len(os.path.commonprefix([w, lemma])) >= SAME_WORD_PREFIX]


@lru_cache(maxsize=1)
def _table() -> dict[str, str]:
    def build() -> dict[str, str] | None:
        files = [DEBIAN_WORDNET / f"{kind}.{name}" for name in _POS_FILES.values() for kind in ("index", "data")]
        if not all(f.is_file() for f in files):
            return None
        return {k: "|".join(sorted(v)) for k, v in _read_related().items()}

    return cached_json(CACHE, build)


def _read_related() -> dict[str, set[str]]:
    synsets = {pos: _read_synsets(name) for pos, name in _POS_FILES.items()}
    table: dict[str, set[str]] = {}
    for pos, name in _POS_FILES.items():
        for line in (DEBIAN_WORDNET / f"index.{name}").read_bytes().splitlines():
            if line.startswith(b"  "):
                continue  # the licence header
            # lemma pos synset_cnt p_cnt [ptr_symbol...] sense_cnt tagsense_cnt synset_offset...
            fields = line.decode("utf-8", "replace").split()
            lemma = fields[0].replace("_", " ")
            offsets = [int(x) for x in fields[6 + int(fields[3]):]][:SENSES]
            found: set[str] = set()
            for offset in offsets:
                words, derived = synsets[pos][offset]
                found.update(words)
                if lemma in words:
                    source = words.index(lemma) + 1
                    for target_pos, target, source_no, target_no in derived:
                        target_words = synsets[target_pos].get(target, ([], []))[0]
                        if source_no == source and 0 < target_no <= len(target_words):
                            found.add(target_words[target_no - 1])
            found.discard(lemma)
            if found:
                table.setdefault(lemma, set()).update(found)
    return table


def _read_synsets(name: str) -> dict[int, tuple[list[str], list[tuple[str, int, int, int]]]]:
    """offset -> (words, derivation pointers as (pos, offset, source word no., target word no.))."""
    out = {}
    for line in (DEBIAN_WORDNET / f"data.{name}").read_bytes().splitlines():
        if line.startswith(b"  "):
            continue  # the licence header
        words, pointers = data_line(line.decode("utf-8", "replace"), "+")
        # Adjective satellites ("s") live in the adjective file.
        out[int(line.split(maxsplit=1)[0])] = (
            words, [("a" if pos == "s" else pos, offset, source, target) for offset, pos, source, target in pointers])
    return out
