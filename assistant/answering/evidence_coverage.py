"""What part of a question the evidence covers: named things, asked-for figures, roles, outcomes.

Pure tests of a question and of texts, used by three stages: gather (the
names a question asks about boost the sentences naming them), decide
(``abstention.py``: is every name mentioned, is the figure given) and
finish (a conflict about an amount the question asks for is worth noting).
"""

from __future__ import annotations

import difflib
import re
from functools import lru_cache

from assistant.answering.question_shape import asks_what_was_done
from assistant.text.language import NAME_LABELS, WH_TAGS, parse, read
from assistant.text.quantities import find_entities, has_quantity
from assistant.text.related_words import same_word_forms
from assistant.text.words import content_words, is_stop_word

_MEASURES = r"(figures?|numbers?|amounts?|totals?|volumes?|tonnage|quotas?|prices?|rates?|costs?|values?|percentages?|shares?|sums?|salary|salaries)"
_ASKS_FIGURE = re.compile(
    r"\bhow (much|many)\b"
    rf"|\b(exact|actual|precise|official|specific)\b[\w\s'’-]{{0,40}}\b{_MEASURES}\b"
    rf"|\bwhat\b[\w\s'’-]{{0,40}}\b{_MEASURES}\b",
    re.IGNORECASE,
)
# The kind of figure a measure word asks for; a money amount does not answer "what rate?".
_PERCENT_WORDS = re.compile(r"\b(rates?|percentages?|shares? of|growth|per ?cent)\b", re.IGNORECASE)
_MONEY_WORDS = re.compile(r"\b(prices?|costs?|worth|values?|salary|salaries|spend|invest(ed|ment)?|paid|pay)\b", re.IGNORECASE)
_WHEN_WORDS = re.compile(
    r"\b(jan(?:uary)?|feb(?:ruary)?|march|apr(?:il)?|may|june?|july?|aug(?:ust)?|sept?(?:ember)?|"
    r"oct(?:ober)?|nov(?:ember)?|dec(?:ember)?|(?:19|20)\d\d)\b",
    re.IGNORECASE,
)
_ASKS_OUTCOME = re.compile(
    r"\b(outcome|result|happened|what did .{1,40} (decide|agree|conclude)|who won|end(ed)? up)\b", re.IGNORECASE
)
_MONTHS_AND_DAYS = re.compile(
    r"^(jan(uary)?|feb(ruary)?|mar(ch)?|apr(il)?|may|june?|july?|aug(ust)?|sep(t(ember)?)?|oct(ober)?|"
    r"nov(ember)?|dec(ember)?|monday|tuesday|wednesday|thursday|friday|saturday|sunday)$",
    re.IGNORECASE,
)


def question_entities(question: str) -> list[str]:
    """Named things the question asks about ('Japan', 'MP Materials'), without question words.

    Capitalised phrases, split where spaCy reads two named things in one
    ("MVP of Super Bowl LV" is "MVP" and "Super Bowl LV"; "the Bank of Japan"
    stays one).
    """
    names = []
    for phrase, _, _ in find_entities(question):
        for name in _split_by_parse(phrase, question):
            if _MONTHS_AND_DAYS.match(name):
                continue
            if name.isupper() and len(name) <= 2:
                continue  # "US", "EU": too short to check by spelling alone
            if name not in names:
                names.append(name)
    return names


def _split_by_parse(phrase: str, question: str) -> list[str]:
    """The spaCy entities inside ``phrase`` when there are two or more, else the phrase."""
    inside = [e.text.removeprefix("the ") for e in read(question).entities
              if e.label in NAME_LABELS and e.text.removeprefix("the ") in phrase]
    return inside if len(inside) >= 2 else [phrase]


# The last word of a name that tells one instance of a series from another: a number or a
# Roman numeral ("Super Bowl LV", "iPhone 15", "World War II", "Apollo 11").
_INSTANCE = re.compile(r"(?:[IVXLC]+|\d+[A-Za-z]?)")


def instance_names(question: str) -> list[str]:
    """The question's names that end in an instance number ("Super Bowl LV", not "MP Materials")."""
    return [n for n in question_entities(question) if len(n.split()) >= 2 and _INSTANCE.fullmatch(n.split()[-1])]


def other_instances(name: str, text: str) -> list[str]:
    """Other members of ``name``'s series that ``text`` names while never naming ``name`` itself.

    "Super Bowl LVII" for "Super Bowl LV"; empty when ``text`` names it. ``name``
    is one of ``instance_names``.
    """
    words = name.split()
    series = r"\s+".join(re.escape(w) for w in words[:-1])
    if re.search(series + r"\s+" + re.escape(words[-1]) + r"(?!\w)", text, re.IGNORECASE):
        return []
    found = re.findall(r"\b(" + series + r"\s+" + _INSTANCE.pattern + r")(?!\w)", text, re.IGNORECASE)
    return list(dict.fromkeys(" ".join(f.split()) for f in found))


#: How alike a misspelt name must be to a word of the text ("Telnet" ~ "Telenet": 0.92).
SPELLING_SIMILARITY = 0.9
_MIN_FUZZY_CHARS = 5  # shorter words differ by one letter too often ("Jan", "Jon")


def mentioned(name: str, texts: list[str]) -> bool:
    """Whether every word of ``name`` (stemmed) occurs together in one of ``texts``.

    A word the question misspells by a letter still counts when it is long
    enough to be unmistakable: users type "Telnet" for "Telenet".
    """
    words = set(content_words(name))
    if not words:
        return True
    if _ACRONYM.fullmatch(name) and any(_spells(name, text) for text in texts):
        return True  # "MVP" for "most valuable player"
    for text in texts:
        vocabulary = _vocabulary(text)
        if all(w in vocabulary or _spelled_alike(w, vocabulary) for w in words):
            return True
    return False


_ACRONYM = re.compile(r"[A-Z]{2,6}")


def _spells(acronym: str, text: str) -> bool:
    """Whether consecutive words of ``text`` spell ``acronym`` with few enough stop words among
    them: "Department of Justice" spells "DOJ" and "most valuable player" "MVP", but "while the
    other" does not spell "WTO" nor "in money for" "IMF" (one stop word per three letters)."""
    allowed = len(acronym) // 3
    for found in _spelled_out(acronym).finditer(text):
        words = re.split(r"[\s-]+", found.group(0).lower())
        if sum(is_stop_word(w) for w in words) <= allowed:
            return True
    return False


def _spelled_out(acronym: str) -> re.Pattern[str]:
    """Consecutive words whose initials spell ``acronym`` ("most valuable player" for "MVP")."""
    return re.compile(r"\b" + r"\w*[\s-]+".join(re.escape(c) for c in acronym) + r"\w*", re.IGNORECASE)


@lru_cache(maxsize=512)
def _vocabulary(text: str) -> frozenset[str]:
    """A passage's content words, kept: each of a question's names and nouns is looked for in
    the same few retrieved passages."""
    return frozenset(content_words(text))


def _spelled_alike(word: str, vocabulary: frozenset[str]) -> bool:
    if len(word) < _MIN_FUZZY_CHARS:
        return False
    return bool(difflib.get_close_matches(word, vocabulary, n=1, cutoff=SPELLING_SIMILARITY))


def missing_entities(question: str, texts: list[str]) -> tuple[list[str], list[str]]:
    """(named things the texts mention, named things they do not)."""
    found: list[str] = []
    missing: list[str] = []
    for name in question_entities(question):
        (found if mentioned(name, texts) else missing).append(name)
    return found, missing


def unmatched_nouns(question: str, texts: list[str]) -> list[str]:
    """The question's nouns that none of ``texts`` mentions ("crisis" in "When was the Rhine crisis?").

    The head noun of each of the question's noun phrases (spaCy), except the
    phrase of the question word, which names the kind of answer ("What year",
    "How many branches") rather than what it is about. When the passage that
    answers a question is missing, the rest of its article is still retrieved
    for the names it shares, but the question's own nouns are often nowhere in
    it; such a question must match its best sentence more closely to be
    answered (``abstain_unmatched_match_threshold``). A noun is mentioned by
    any form of its word too ("smugglers" by "smuggling"): WordNet's related
    forms that share its first letters (``same_word_forms``), not its
    synonyms, which would let "occupation" be mentioned by "business".
    """
    heads = [chunk.root for chunk in parse(question).noun_chunks if not any(t.tag_ in WH_TAGS for t in chunk)]
    nouns = {h.text: h.lemma_.lower() for h in heads if h.pos_ in ("NOUN", "PROPN") and h.is_alpha and not h.is_stop}
    return [noun for noun, lemma in nouns.items()
            if not any(mentioned(form, texts) for form in (noun, *same_word_forms(lemma)))]


def asks_for_figure(question: str) -> bool:
    """Whether the question asks for a figure ("how many ...", "what was the share price ..."); one
    asking what someone did ("What did the Fed do with interest rates?") does not, though it names a
    measure."""
    return bool(_ASKS_FIGURE.search(question)) and not asks_what_was_done(question)


def measured_word(question: str) -> str | None:
    """What a figure question counts or measures: "employees" in "how many employees were
    affected?", "price" in "what was the share price?"; None for a bare "how much ...?".

    The noun "many"/"much" modifies (spaCy's parse), else the measure word the question
    asks for by name.
    """
    for token in parse(question):
        if token.lower_ not in ("many", "much"):
            continue
        if token.dep_ == "amod" and token.head.pos_ in ("NOUN", "PROPN"):
            return token.head.text
        # "How many of the 900 students survived?": what "of" names is what is counted.
        for of in (child for child in token.children if child.dep_ == "prep" and child.lower_ == "of"):
            for counted in of.children:
                if counted.dep_ == "pobj" and counted.pos_ in ("NOUN", "PROPN"):
                    return counted.text
    found = _ASKS_FIGURE.search(question)
    named = re.findall(rf"\b{_MEASURES}\b", found.group(0), re.IGNORECASE) if found else []
    return named[-1] if named else None


def asks_about_amount(question: str) -> bool:
    """A figure, or money or a share of something ("how much did the US invest?")."""
    return asks_for_figure(question) or bool(_MONEY_WORDS.search(question) or _PERCENT_WORDS.search(question))


def when_words(text: str) -> set[str]:
    """Months and years named in ``text``, normalised to their first three letters or digits."""
    return {w.lower()[:3] if not w.isdigit() else w for w in _WHEN_WORDS.findall(text)}


def gives_figure(texts: list[str], question: str = "", lead_ups: list[str] | None = None) -> bool:
    """Whether a text states the kind of figure asked, for the period and names it asks about.

    "7,742 tonnes in June" does not answer "how many tonnes in May 2025?",
    nor "how much ore does India mine?" (no India), nor "what tariff rate?"
    (tonnes are not a rate). A name may be in the text's lead-up (``lead_ups[i]``:
    its title and the passage up to it): news names a thing once, then says
    "the plant" ("The plant can process 4,800 tonnes" after "The Zorblax refinery ...").
    """
    from assistant.text.quantities import find_amounts

    wanted = when_words(question)
    names = [set(content_words(n)) for n in question_entities(question)]
    kind = "percent" if _PERCENT_WORDS.search(question) else "money" if _MONEY_WORDS.search(question) else None
    for i, text in enumerate(texts):
        if not (has_quantity(text) or _states_number_in_words(text)) or not wanted <= when_words(text):
            continue
        words = set(content_words(text))
        if lead_ups is not None:
            words |= set(content_words(lead_ups[i]))
        if names and not any(n <= words for n in names):
            continue
        if kind and not any(a.kind == kind for a in find_amounts(text)):
            continue
        return True
    return False


_NUMBER_LABELS = frozenset({"CARDINAL", "QUANTITY", "MONEY", "PERCENT", "DATE", "TIME"})


def _states_number_in_words(text: str) -> bool:
    """A number spaCy reads in ``text`` other than a year: "a nine-year sentence", "nine years"
    (``has_quantity`` reads digits and amounts only)."""
    return any(not (value.is_integer() and 1000 <= value <= 2100)
               for entity in read(text).entities if entity.label in _NUMBER_LABELS for value in entity.values)


def asks_about_outcome(question: str) -> bool:
    return bool(_ASKS_OUTCOME.search(question))


ROLE_SIMILARITY_FLOOR = 0.25


def role_missing(question: str, texts: list[str], embeddings) -> bool:
    """For 'who' questions: nothing in ``texts`` is about the role asked for.

    "Who is the chief executive of MP Materials?" is not answered by
    sentences about MP Materials' owners. The role is the question minus its
    names; it is present when its words appear, or when a sentence is
    semantically close to it ("biggest owner" ~ "largest stakeholder").
    """
    if not texts or not re.match(r"^\s*who\b", question, re.IGNORECASE):
        return False
    role = question
    for name in question_entities(question):
        role = role.replace(name, " ")
    role = re.sub(r"^\s*who\s+(is|was|are|were)?\s*|[?'’]s?\b|\?", " ", role, flags=re.IGNORECASE)
    role_words = set(content_words(role))
    if not role_words:
        return False
    # "Who is older, Annie Morton?" asks a comparison, not a role: no sentence says "older".
    if all(t.tag_ in ("JJR", "RBR") for t in parse(role) if t.lower_ in role_words):
        return False
    present = set().union(*(set(content_words(t)) for t in texts))
    if len(role_words & present) / len(role_words) >= 0.5:
        return False
    import numpy as np

    vectors = np.asarray(embeddings.embed_documents([role.strip(), *texts]))
    return float(np.max(vectors[1:] @ vectors[0])) < ROLE_SIMILARITY_FLOOR
