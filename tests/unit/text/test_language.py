"""spaCy readings and WordNet antonyms: what the judge and the decide stage rely on."""

from __future__ import annotations

import pytest

from assistant.text import antonyms
from assistant.text.language import read


def test_amounts_are_compared_by_value():
    assert {7742.0, 60.3} <= read("Exports jumped 60.3% to 7,742 tonnes.").values
    assert 3.0 in read("They built three new plants.").values
    assert 1_300_000.0 in read("The population was about 1.3 million.").values


def test_negation_attaches_to_its_verb():
    assert "announce" in read("China did not announce the quotas.").negated
    assert not read("China announced the quotas.").negated


def test_entities_carry_their_label():
    labels = {e.label for e in read("In 1756 George Washington led British troops to Ohio.").entities}
    assert {"DATE", "PERSON"} <= labels


@pytest.mark.skipif(not antonyms.available(), reason="Debian wordnet-base is not installed")
def test_wordnet_antonyms():
    assert "lose" in antonyms.antonyms("win")
    assert "less" in antonyms.antonyms("more")
    assert antonyms.antonyms("qwertyuiop") == frozenset()


def test_a_stop_word_used_as_a_name_or_noun_is_a_content_word():
    from assistant.text.language import read

    reading = read("In which US state is MP Materials' mine?")
    assert {"us", "mine", "state"} <= reading.lemmas
    assert [e.words for e in reading.entities if e.text == "US"] == [frozenset({"us"})]
    assert "which" not in reading.lemmas and "is" not in reading.lemmas


def test_a_negative_quantifier_denies_its_verb():
    assert "damage" in read("None of the Olympic venues were damaged.").negated
    assert "collapse" in read("Reporters saw cracks, but no buildings collapsed.").negated
    assert "come" in read("No one came.").negated
    assert not read("Several Olympic venues were damaged.").negated


def test_a_date_under_a_preposition_at_the_root_is_read_without_looping():
    # spaCy parses "On" as the root here; walking up through prepositions must stop at it.
    reading = read("On March 23, 1833, who headlined and performed with Chopin at a concert?")
    assert any(1833.0 in values for values, _ in reading.attachments)
