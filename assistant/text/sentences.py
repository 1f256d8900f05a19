"""Sentence spans: where a sentence starts and ends, as offsets into the original text.

Chunking cuts chunks at these boundaries, evidence selection ranks these
spans, and verification checks each sentence of an answer against them, so
all three must agree on what a sentence is: one function, shared. Offsets
(not copied strings) keep every citation pointing at exact source text.
"""

from __future__ import annotations

import re

_ABBREVIATIONS = {
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "co", "corp", "inc", "ltd", "vs",
    "etc", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov",
    "dec", "no", "fig", "gen", "gov", "sen", "rep", "u.s", "u.k", "e.g", "i.e",
    # Ranks and titles written before a name ("her portrayal of Lt. Nyota Uhura") and
    # abbreviations news writes before a proper noun ("Mt. Fuji", "Dept. of Labor").
    "lt", "col", "capt", "cpt", "sgt", "maj", "adm", "cmdr", "brig", "rev", "hon", "pres", "supt",
    "mt", "ft", "ave", "blvd", "dept", "univ", "approx",
    # Times of day, which news follows with a zone or a day ("8:20 a.m. ET", "4 p.m. Tuesday").
    "a.m", "p.m",
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
            # A sentence does not end inside brackets it opened: "the Yongle Emperor (r. 1402–1424)
            # was ...", "(c. 1200)"; a bracket closed by the match itself ("(See below.) Next") is.
            sentence = body[cut - line_start : m.end()]
            if sentence.count("(") > sentence.count(")") or sentence.count("[") > sentence.count("]"):
                continue
            # Nor inside a quotation that closes later on the line: "“We must not prolong this
            # crisis. If it is agreed, that's fine with me,” Baker told CNN." is one claim, its
            # speaker included. (A quotation left open at the line's end runs into the next
            # paragraph, as news quotes do, and is split as usual.)
            stop = m.start() + 1 + _closing_len(body, m)  # after the mark and its closing quotes
            if _inside_quotation(body, cut - line_start, stop):
                continue
            # A quoted question or exclamation keeps its attribution: "“... not sustainable?”
            # Sturgeon said in a series of tweets."
            if _attribution_follows(body, m):
                continue
            _append_trimmed(text, spans, cut, line_start + stop)
            cut = line_start + m.end()
        _append_trimmed(text, spans, cut, line_start + len(body))
    return spans


# The words of an attribution after a quoted question ("Sturgeon said in a series of tweets").
ATTRIBUTION_MAX_WORDS = 8
_NEXT_END = re.compile(r"[.!?]")


# A quotation held together across its sentences runs at most this many more words: a longer
# one is a speech, split as usual (its later sentences read on their own).
QUOTE_REST_MAX_WORDS = 40
_STRAIGHT_QUOTE = re.compile(r'(?<!\d)"')  # not an inch mark: 7" vinyl


def _inside_quotation(body: str, start: int, at: int) -> bool:
    """Whether position ``at`` of the line lies inside a double quotation opened since ``start``
    that the line closes soon after. Curly quotes say which way they face; straight ones pair up."""
    if body.count("“", start, at) > body.count("”", start, at):
        close = body.find("”", at)
    elif len(_STRAIGHT_QUOTE.findall(body, start, at)) % 2 == 1:
        # Straight quotes face both ways: the next one must close (no letter or digit right after it).
        found = _STRAIGHT_QUOTE.search(body, at)
        close = found.start() if found and not body[found.end() : found.end() + 1].isalnum() else -1
    else:
        return False
    return close >= 0 and len(body[at:close].split()) <= QUOTE_REST_MAX_WORDS


def _attribution_follows(body: str, m: re.Match) -> bool:
    """Whether the boundary ``m`` closes a quoted question or exclamation ("?”") and what follows,
    up to the next full stop, is a short clause with no quotation of its own: who said it."""
    closing = body[m.start() : m.end()].rstrip()
    if closing[:1] not in "?!" or not closing[1:2] or closing[1] not in "\"”":
        return False
    rest = body[m.end() :]
    end = _NEXT_END.search(rest)
    clause = rest[: end.start()] if end else rest
    return 0 < len(clause.split()) <= ATTRIBUTION_MAX_WORDS and not any(q in clause for q in "“\"")


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


# A whole sentence inside one pair of double quotes: an opening quote first, a closing one last.
_BARE_QUOTATION = re.compile(r'[“"][^“”"]+[”"]')


def is_bare_quotation(sentence: str) -> bool:
    """Whether ``sentence`` is one quotation and nothing else: words with no speaker
    ("“It took a lot of courage to stand against the Republican Party.”"), which the
    paragraph names before or after it."""
    return bool(_BARE_QUOTATION.fullmatch(sentence.strip()))
