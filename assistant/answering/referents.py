"""After decide: when the lead sentence refers to what was asked without naming it, name it first.

News writes the name once and then refers back: "More than 4,000 applicants
were accepted to Northeastern University's law school ... There was just one
problem: the letters were sent by mistake, according to the university."
Asked "Which university sent acceptance letters by mistake?", the second
sentence matches the question best, yet only the first says which
university. The parse shows the reference: the asked-for noun under a
definite determiner with no name attached ("the university", "the wildly
popular South Korean show"), or a pronoun doing a verb of the question in the
role the question asks about ("They are dropping a new single" for "Which band
is dropping ...", "He had been replaced by Abercrombie" for "Who did
Abercrombie replace?").
The sentence just before it in the same passage, when it names something the
question does not, then goes first: it is the one that answers.
"""

from __future__ import annotations

from assistant.answering.evidence import Span
from assistant.answering.question_shape import determined_noun, names_kind_asked, question_shape
from assistant.text.language import NAME_LABELS, parse, read
from assistant.text.related_words import related

_SUBJECTS = ("nsubj", "nsubjpass")
# A question's role for what it asks -> the roles a pronoun standing for it takes in a sentence:
# "Who did Abercrombie replace?" (object) -> "He had been replaced by Abercrombie" (passive subject).
_ROLES = {"nsubj": ("nsubj",), "nsubjpass": ("nsubjpass",), "dobj": ("nsubjpass",)}
# Determiners that point back to something already named.
_DEFINITE = frozenset({"the", "this", "that", "these", "those"})
# Pronouns that stand for a thing or a group named before.
_PRONOUNS = frozenset({"it", "they", "he", "she"})
# Labels of a name that answers "which ..." (a nationality describes, it does not name).
_ANSWER_NAMES = NAME_LABELS - {"NORP"}


def name_the_referent(question: str, spans: list[Span], evidence: list[Span]) -> list[Span]:
    """``evidence`` with the sentence that names what the lead refers to put first, when there is one.

    The lead stays, second; unchanged unless the question asks for one thing
    ("Which N ...", "Who ..."), the lead refers to it without naming it (nor
    names a thing of the kind asked), and the sentence before the lead in its
    passage names something the question does not.
    """
    shape = question_shape(question)
    if not evidence or shape.broad:
        return evidence
    asked = _asked_noun(question)
    if asked is None:
        return evidence
    lead, question_reading = evidence[0], read(question)
    route = _refers_without_naming(lead.text, asked, question_reading.lemmas, _ANSWER_NAMES | shape.expected)
    if route is None:
        return evidence
    # A pronoun may stand for someone else while the lead names the answer ("It was founded by
    # Larry Roberts" for "Who founded Telenet?"); "the country" cannot be the country named in it.
    if route == "pronoun" and shape.expected and names_kind_asked(read(lead.text), shape.expected,
                                                                   question_reading):
        return evidence
    before = _sentence_before(lead, spans)
    if before is None or before in evidence[:1] or not _names_new(before.text, question):
        return evidence
    return [before, *[s for s in evidence if s is not before]]


def _asked_noun(question: str) -> tuple[str, str] | None:
    """(lemma of the noun a "which"/"what" determines, or "" for "who"/"whom"; its dependency when
    it is the question's subject or object, else "")."""
    for token in parse(question):
        if token.lower_ in ("who", "whom") and token.tag_ == "WP":
            return "", token.dep_ if token.dep_ in _ROLES else ""
        if token.lower_ in ("which", "what") and token.tag_ == "WDT":
            noun = determined_noun(token)
            if noun is None:
                return None
            # The parser may hang the subject on the wh-word ("Which wildly popular show was ...").
            role = noun.dep_ if noun.dep_ in _ROLES else token.dep_ if token.dep_ in _SUBJECTS else ""
            return noun.lemma_.lower(), role
    return None


def _refers_without_naming(sentence: str, asked: tuple[str, str], question_lemmas: frozenset[str],
                           naming: frozenset[str]) -> str | None:
    """How ``sentence`` mentions the asked-for thing without naming it, or None when it does not.

    ``"definite"``: by a definite noun with no name of a ``naming`` kind anywhere in its phrase
    ("the wildly popular South Korean show"); ``"pronoun"``: by a pronoun doing, in the same role,
    a verb of the question ("They are dropping" for "Which band ... is dropping").
    """
    noun, role = asked
    forms = {noun} | related(noun) if noun else set()
    for token in parse(sentence):
        if noun and token.lemma_.lower() in forms and token.pos_ == "NOUN":
            determiners = {c.lower_ for c in token.children if c.dep_ == "det"}
            # Named by an entity of a kind that could be the answer, a proper noun outside any entity,
            # or any entity before the noun: "the time of the Miocene" and "the August 12 deadline"
            # are named, "The shows on Tuesday" is not named by its date.
            named = any(t.ent_type_ in naming or (t.pos_ == "PROPN" and not t.ent_type_)
                        or (t.i < token.i and t.ent_type_ and t.ent_type_ != "NORP")
                        for t in token.subtree if t.i != token.i)
            if determiners & _DEFINITE and not named:
                return "definite"
        if (role and token.lower_ in _PRONOUNS and token.dep_ in _ROLES[role]
                and token.head.lemma_.lower() in question_lemmas):
            return "pronoun"
    return None


def _sentence_before(lead: Span, spans: list[Span]) -> Span | None:
    """The retrieved sentence that ends right before ``lead`` in the same document, if any."""
    earlier = [s for s in spans if s.doc_id == lead.doc_id and s.end <= lead.start]
    if not earlier:
        return None
    before = max(earlier, key=lambda s: s.end)
    # Only the sentence right before: a gap longer than a paragraph break means others lay between.
    return before if lead.start - before.end <= 4 else None


def _names_new(sentence: str, question: str) -> bool:
    """Whether ``sentence`` names a thing the question does not: a spaCy entity, or a proper noun
    outside any (the model tags no entity in "“Squid Game” is officially coming back")."""
    asked = read(question).words
    if any(e.label in _ANSWER_NAMES and not e.words <= asked for e in read(sentence).entities):
        return True
    return any(t.pos_ == "PROPN" and not t.ent_type_ and t.lower_ not in asked for t in parse(sentence))
