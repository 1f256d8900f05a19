"""Restore the capitals of a question typed without them, from how the documents write each word.

"who is the biggest owner of mp materials" hides every name from spaCy (no
PERSON, ORG or GPE without capitals), so the checks that read names (a name
the documents never mention, a year or an instance the passages lack, the
name bonus in ranking) see nothing. The documents say how each word is
written: "MP Materials", "China", "The Independent". A word whose mid-sentence
occurrences are mostly capitalized is a name; the question gets that form
(frequency truecasing). Counted once per index generation with the BM25 index
(``store/lexical.py``), so a question pays only a dictionary lookup.

Only a question with no capitals of its own (or all capitals) is changed: a
user who capitalized "Tell us about China" meant "us" as typed.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

# Words and their inner marks ("U.S.", "Rhine-Meuse"); digits are never recased, and a
# possessive "'s" is left to itself ("china's" -> "China's").
_WORD = re.compile(r"[^\W\d_][\w.-]*")
TITLE_SHARE = 0.6  # an unpunctuated line with this share of capitalized words is a heading
MIN_NAME_SHARE = 0.6  # a clear majority: "Security" in "Ministry of State Security" vs "security" elsewhere


def case_forms(texts: Iterable[str]) -> dict[str, str]:
    """lower-case word -> how the texts mostly write it mid-sentence, for words mostly written otherwise.

    A sentence's (or a line's: a heading, a list item) first word is capitalized
    whatever it is, so it is not counted. Words mostly written in lower case are
    left out, so the table holds the names only (a few percent of a vocabulary).
    """
    forms: Counter[str] = Counter()
    for text in texts:
        for line in text.splitlines():
            words = list(_WORD.finditer(line))
            if (len(words) > 1 and not line.rstrip().endswith((".", "!", "?", '"', "”"))
                    and sum(w.group()[0].isupper() for w in words) >= TITLE_SHARE * len(words)):
                continue  # a heading in title case ("US Response: Domestic Production") capitalizes every word
            end, previous = 0, ""
            for m in words:
                gap = line[end:m.start()]
                starts = not previous or previous.endswith(".") or any(c in ".!?" for c in gap)
                previous, end = m.group(), m.end()
                if not starts:
                    forms[previous.rstrip(".-")] += 1
    totals: Counter[str] = Counter()
    best: dict[str, tuple[int, str]] = {}
    for form, n in forms.items():
        lower = form.lower()
        totals[lower] += n
        if form != lower and n > best.get(lower, (0, ""))[0]:
            best[lower] = (n, form)
    return {lower: form for lower, (n, form) in best.items() if n >= MIN_NAME_SHARE * totals[lower]}


def truecase(question: str, forms: dict[str, str]) -> str:
    """``question`` with its names written as ``forms`` says, when the user typed no capitals.

    A question with capitals of its own (beyond its first letter) is returned
    unchanged; an all-capitals one is read as lower case first. The first
    letter is capitalized either way.
    """
    letters = [c for c in question if c.isalpha()]
    if not letters:
        return question
    if all(c.isupper() for c in letters):
        question = question.lower()
    elif any(c.isupper() for c in letters[1:]):
        forms = {}  # the user's own capitals are kept as typed

    def restore(m: re.Match) -> str:
        word = m.group()
        core = word.rstrip(".-")
        return forms.get(core, core) + word[len(core):] if core.islower() else word

    cased = _WORD.sub(restore, question) if forms else question
    return cased[:1].upper() + cased[1:]
