"""Understand stage: a question that asks two things, read as its parts.

"When did Liz Truss become prime minister and when did she resign?" asks for
two facts that sit in two articles. Retrieved and ranked as one query, the
part whose words dominate the query vector takes every slot of a one-fact
answer, and the other part goes unanswered. Read as two questions, each part
gets its own evidence and its own lead sentence.

The parts come from spaCy's parse, not from word lists: a coordinating
conjunction directly before a wh-word, with a question (a wh-word and a verb)
on each side ("... minister and when did she resign?"), or two wh-words
coordinated at the start ("When and where did the eruption happen?"). "The
Rhine and what other river ...?" and "between Gaul and what else?" ask one
thing: the words before "and" hold no wh-word, or the words after no verb.

A question choosing between names ("Who is older, Annie Morton or Terry
Richardson?") is one part per name (``question_alternatives``): each name's
facts sit in its own passage.

Names coordinated by "and" inside one clause stay one question ("When did the Meuse
and Waal merge?", "SpaceX and NASA launched a rocket. What was its
destination?"). Splitting them was tried: of the twelve such dev questions in
the suites, written by others, nearly all ask one thing of the pair (what it
did together, a name holding "and", examples in a list).
"""

from __future__ import annotations

from functools import lru_cache

from assistant.text.language import PRONOUN_TAGS, WH_TAGS, parse, refers_back

MAX_PARTS = 3  # a longer chain of "and"s is more likely a list than separate questions


def question_parts(question: str) -> list[str]:
    """The questions ``question`` asks, each standalone; ``[question]`` when it asks one."""
    return list(_parts(" ".join(question.split()), False))


def parts_with_earlier_names(question: str) -> list[str]:
    """``question_parts``, where a part naming no thing of its own ("... and who is affected?")
    also carries the first part's names: the reading to try when that part alone is unanswered.

    Not the first reading: in a question joining two unrelated ones ("How many parts does Stage 3
    have and what can often be predicted beforehand?", of the two-part probe) the first part's
    names pull the second part's retrieval back to the first part's answer.
    """
    return list(_parts(" ".join(question.split()), True))


@lru_cache(maxsize=1024)
def _parts(question: str, carry_to_bare_parts: bool) -> tuple[str, ...]:
    doc = parse(question)
    tokens = list(doc)
    if len(tokens) >= 4 and tokens[0].tag_ in WH_TAGS and tokens[1].lower_ == "and" and tokens[2].tag_ in WH_TAGS:
        # "When and where did it happen?": each wh-word with the shared rest.
        rest = doc[3:].text
        return (_capitalised(f"{tokens[0].text} {rest}"), f"{tokens[2].text.capitalize()} {rest}")
    cuts = [t.i for t in tokens[1:-1] if t.dep_ == "cc" and t.lower_ in ("and", "but")
            and doc[t.i + 1].tag_ in WH_TAGS]
    if not cuts or len(cuts) >= MAX_PARTS:
        return (question,)
    bounds = [0, *cuts, len(tokens)]
    pieces = [doc[a + (1 if a in cuts else 0):b] for a, b in zip(bounds, bounds[1:], strict=False)]
    if not all(_asks(piece) for piece in pieces):
        return (question,)
    first = pieces[0]
    # "I want to know what rare earths are and why China controls them": the words before the
    # first wh-word frame every part.
    frame = doc[first.start:next(t.i for t in first if t.tag_ in WH_TAGS)]
    mark = "." if frame and question.rstrip().endswith(".") else "?"
    out = [_as_question(first.text, mark)]
    for piece in pieces[1:]:
        text = _as_question(f"{frame.text} {piece.text}" if frame else piece.text, mark)
        # A part that refers back with a pronoun ("when did she resign?") takes the first part's
        # names along: its words, not the whole question, so retrieval is not pulled back to the
        # first part's answer. A part that names a thing of its own ("when was the company
        # founded?") is left as it is: taking the words along there too cost the two-part probe's
        # dev answers (ood both-facts fact recall 0.914 -> 0.862, rhine 0.967 -> 0.900). A part
        # that names nothing takes them only when asked (see parts_with_earlier_names).
        carries = refers_back(piece) or (carry_to_bare_parts and _names_nothing(piece))
        names = _things_named(first) if carries else []
        if names:
            text = " ".join([*names, text if frame else text[:1].lower() + text[1:]])
        out.append(text)
    return tuple(out)


def question_alternatives(question: str) -> list[str]:
    """A question choosing between names read as one question per name ("Who is older, Annie
    Morton or Terry Richardson?" -> "Who is older, Annie Morton?", "Who is older, Terry
    Richardson?"); ``[question]`` when it does not choose between names.

    Each name's facts sit in its own passage (a birth date, a length), so each is gathered as a
    part; the answer quotes both and leaves the comparing to the reader, whose facts are cited.
    Only names coordinated by "or" count: "Did exports rise or fall?" chooses between verbs.
    """
    return list(_alternatives(" ".join(question.split())))


@lru_cache(maxsize=1024)
def _alternatives(question: str) -> tuple[str, ...]:
    doc = parse(question)
    for token in doc:
        if token.pos_ != "PROPN" or (token.dep_ == "conj" and token.head.pos_ == "PROPN"):
            continue  # not the first name of a chain ("Paris" may hang on "larger" as a conjunct)
        chain = [token]  # "Paris, Lyon or Marseille": each name the conjunct of the one before
        while (nxt := next((c for c in chain[-1].children if c.dep_ == "conj" and c.pos_ == "PROPN"), None)):
            chain.append(nxt)
        if len(chain) > 2 and chain[0].dep_ == "pobj":
            chain = chain[1:]  # "headquartered in Las Vegas, Apple or MP Materials?": a place, then the choice
        if len(chain) < 2 or not any(c.dep_ == "cc" and c.lower_ == "or" for t in chain for c in t.children):
            continue
        names = [_name_run(doc, t) for t in chain]
        # Between the names only commas, "or" and "the", and none ends a phrase begun before it:
        # "Letters to Cleo or Screaming Trees" read as "Cleo" or "Screaming Trees" would cut a name.
        gaps = [t for a, b in zip(names, names[1:], strict=False) for t in doc[a.end:b.start]]
        opens = names[0].start == 0 or doc[names[0].start - 1].pos_ not in ("ADP", "NOUN", "PROPN")
        if (len(names) > MAX_PARTS or any(a.end > b.start for a, b in zip(names, names[1:], strict=False))
                or not opens or not all(t.is_punct or t.dep_ in ("cc", "det") for t in gaps)):
            return (question,)
        before, after = doc[:names[0].start].text, doc[names[-1].end:].text
        return tuple(_capitalised(" ".join(f"{before} {name.text} {after}".split()).replace(" ?", "?"))
                     for name in names)
    return (question,)


def _name_run(doc, token):
    """The name ``token`` is part of: its entity, else the proper nouns around it ("Annie Morton"
    of "Morton"), with a leading "the"."""
    entity = next((e for e in doc.ents if e.start <= token.i < e.end), None)
    start, end = (entity.start, entity.end - 1) if entity is not None else (token.i, token.i)
    while entity is None and start > 0 and doc[start - 1].pos_ == "PROPN":
        start -= 1
    while entity is None and end + 1 < len(doc) and doc[end + 1].pos_ == "PROPN":
        end += 1
    if start > 0 and doc[start - 1].lower_ == "the":
        start -= 1
    return doc[start:end + 1]


def _things_named(piece) -> list[str]:
    """The names and other noun phrases of a part, without its wh-word or pronouns
    ("Liz Truss", "prime minister"; "rare earths" of "what rare earths")."""
    names = [e for e in piece.ents if e.label_ not in ("CARDINAL", "ORDINAL")]
    named = {t.i for e in names for t in e}
    found = [(e.start, e.text) for e in names]
    for chunk in piece.noun_chunks:
        words = [t for t in chunk if t.tag_ not in WH_TAGS and t.tag_ not in PRONOUN_TAGS and t.i not in named]
        if words and any(t.pos_ in ("NOUN", "PROPN") for t in words):
            found.append((words[0].i, " ".join(t.text for t in words)))
    return [text for _, text in sorted(found)]


def _names_nothing(piece) -> bool:
    """A part with no noun, name or number of its own ("who is affected?"): it only makes sense
    about what the question named before."""
    return not any(t.pos_ in ("NOUN", "PROPN", "NUM") for t in piece)


def _asks(piece) -> bool:
    """A span of tokens that is a question of its own: a wh-word and a verb."""
    return (any(t.tag_ in WH_TAGS for t in piece) and any(t.pos_ in ("VERB", "AUX") for t in piece)
            and len(piece) >= 3)


def _as_question(text: str, mark: str = "?") -> str:
    text = text.strip().rstrip(",;").strip()
    text = text if text.endswith(mark) else text.rstrip(".?") + mark
    return _capitalised(text)


def _capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]
