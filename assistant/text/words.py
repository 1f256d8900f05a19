"""Word normalisation shared by chunking, retrieval, evidence and judging.

BM25, evidence ranking and claim checking all compare texts by their content
words; one normaliser (NFKC, straight quotes, stems, numbers without
separators) keeps "enforcing" and "enforcement", "7,742" and "7742" equal
everywhere. Sentence boundaries live in ``sentences.py``.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_STOPWORDS = frozenset(
    ["a", "an", "the", "and", "or", "but", "if", "of", "to", "in", "on", "at", "by", "for", "with", "from", "as", "is", "are", "was", "were", "be", "been", "being", "it", "its", "this", "that", "these", "those", "there", "their", "they", "them", "he", "she", "his", "her", "we", "our", "you", "your", "i", "me", "my", "what", "which", "who", "whom", "whose", "when", "where", "why", "how", "do", "does", "did", "done", "has", "have", "had", "having", "not", "no", "so", "than", "then", "too", "very", "can", "could", "should", "would", "will", "shall", "may", "might", "must", "also", "into", "about", "over", "under", "after", "before", "between", "through", "during", "such", "any", "some", "more", "most", "other", "only", "own", "same", "just", "s", "t", "don", "now", "up", "down", "out", "off", "again", "further", "once", "here", "all", "both", "each", "few", "many", "much", "whether", "tell", "explain", "describe", "give", "me", "please", "doing", "taking"]
)
_WORD = re.compile(r"[a-z0-9]+(?:[.,][0-9]+)*")


def normalise(text: str) -> str:
    """Lower case, NFKC, curly quotes straightened, whitespace collapsed."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = text.replace("\u2019", "'").replace("\u2018", "'").replace("\u201c", '"').replace("\u201d", '"')
    return " ".join(text.split())


_STEMMER = None


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """Snowball English stem (PyStemmer): 'enforcing' ~ 'enforcement' ~ 'enforce'."""
    global _STEMMER
    if _STEMMER is None:
        import Stemmer

        _STEMMER = Stemmer.Stemmer("english")
    return _STEMMER.stemWord(word)


def is_stop_word(word: str) -> bool:
    """Whether the lower-cased ``word`` carries no meaning of its own ("the", "of", "most")."""
    return word in _STOPWORDS


def content_words(text: str) -> list[str]:
    """Stemmed words that carry meaning; numbers keep their digits without separators."""
    words = []
    for w in _WORD.findall(normalise(text)):
        if w in _STOPWORDS:
            continue
        if w[0].isdigit():
            words.append(w.replace(",", ""))
        elif len(w) > 1:
            words.append(stem(w))
    return words


def numbers_in(text: str) -> set[str]:
    """Numbers as written values ('7,742' and '7742' are the same)."""
    return {n.replace(",", "") for n in re.findall(r"\d[\d,]*(?:\.\d+)?", text)}
