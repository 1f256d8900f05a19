"""Sentence spans, tokens and word normalisation shared by chunking, evidence and judging."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_ABBREVIATIONS = {
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "co", "corp", "inc", "ltd", "vs",
    "etc", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov",
    "dec", "no", "fig", "gen", "gov", "sen", "rep", "u.s", "u.k", "e.g", "i.e",
}
_SENTENCE_END = re.compile(r"[.!?][\"'”’)\]]*\s+(?=[\"“‘(\[]?[A-Z0-9$€£])")
_BULLET_PREFIX = re.compile(r"^\s*(?:[•*·–—-]|\d+[.)])\s+")


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Split ``text[start:end]`` into sentence spans (absolute offsets, trimmed).

    Line breaks always end a sentence: these pages put one bullet or
    paragraph per line. Abbreviations such as "Corp." or "U.S." do not.
    """
    end = len(text) if end is None else end
    spans: list[tuple[int, int]] = []
    pos = start
    for line in text[start:end].splitlines(keepends=True):
        line_start = pos
        pos += len(line)
        body = line.rstrip("\r\n")
        cut = line_start
        for m in _SENTENCE_END.finditer(body):
            word = re.findall(r"[\w.]+$", body[: m.start()])
            if word and word[-1].lower().rstrip(".") in _ABBREVIATIONS:
                continue
            if word and len(word[-1]) == 1 and word[-1].isupper():  # initials: "John D. Smith"
                continue
            _append_trimmed(text, spans, cut, line_start + m.start() + 1 + _closing_len(body, m))
            cut = line_start + m.end()
        _append_trimmed(text, spans, cut, line_start + len(body))
    return spans


def _closing_len(body: str, m: re.Match) -> int:
    matched = body[m.start() + 1 : m.end()]
    return len(matched) - len(matched.lstrip("\"'”’)]"))


def _append_trimmed(text: str, spans: list[tuple[int, int]], s: int, e: int) -> None:
    segment = text[s:e]
    if not segment.strip():
        return
    lead = len(segment) - len(segment.lstrip())
    bullet = _BULLET_PREFIX.match(segment[lead:])
    if bullet:
        lead += bullet.end()
    trail = len(segment) - len(segment.rstrip())
    if s + lead < e - trail:
        spans.append((s + lead, e - trail))


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
