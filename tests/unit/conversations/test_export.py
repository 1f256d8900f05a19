"""Exports of a conversation (Markdown, JSON) and the gold lines made from corrections."""

from __future__ import annotations

import json

import pytest

from assistant.conversations.export import export, gold_lines, to_json, to_markdown
from assistant.errors import InputError
from assistant.evaluation.harness import load_gold
from tests.unit.conversations.conftest import answer_dict


@pytest.fixture
def chat(store):
    record = store.create(title="Rare earths")
    first = store.add_turn(record.id, "When did China cut export quotas?", answer_dict())
    abstained = dict(answer_dict("The documents do not say.", query="Who won the 1998 World Cup?"),
                     abstained=True, citations=[])
    store.add_turn(record.id, "Who won the 1998 World Cup?", abstained)
    store.add_feedback(first.id, "down", comment="too vague", correction="China cut its quotas by 40% in 2010.")
    return store.get(record.id)


def test_markdown_has_questions_answers_and_numbered_sources_with_snippets(chat):
    md = to_markdown(chat)
    assert md.startswith("# Rare earths\n")
    assert "## When did China cut export quotas?" in md and "China cut export quotas in 2010 [1]." in md
    assert "1. Rare earths · Quotas (`000_0fda6ccdd058825b`, characters 120–163)" in md
    assert "   > China cut its export quotas by 40% in 2010." in md
    assert "correction: China cut its quotas by 40% in 2010." in md and "comment: too vague" in md
    assert "## Who won the 1998 World Cup?" in md and "_The documents do not answer this._" in md
    assert md.index("When did China") < md.index("Who won")


def test_json_round_trips(chat):
    text, media_type = export(chat, "json")
    assert media_type == "application/json"
    data = json.loads(text)
    assert data == to_json(chat) == json.loads(json.dumps(chat.to_dict()))
    assert [t["question"] for t in data["turns"]] == [t.question for t in chat.turns]
    assert data["turns"][0]["answer"] == answer_dict()
    assert data["turns"][0]["feedback"]["rating"] == "down" and data["turns"][1]["feedback"] is None


def test_export_refuses_an_unknown_format(chat):
    with pytest.raises(InputError) as err:
        export(chat, "pdf")
    assert err.value.field == "format" and "md, json" in str(err.value)


def test_gold_lines_only_for_down_ratings_with_a_correction(store, tmp_path):
    record = store.create()
    turns = [store.add_turn(record.id, f"q{i}?", answer_dict(query=f"Standalone question {i}?")) for i in range(4)]
    store.add_feedback(turns[0].id, "up")
    store.add_feedback(turns[1].id, "down", comment="wrong")  # no correction: no gold line
    store.add_feedback(turns[2].id, "down", correction="China cut quotas in 2010.", facts=["2010", "40%"],
                       sources=["000_0fda6ccdd058825b"])
    store.add_feedback(turns[3].id, "down", correction="Only this one.")
    lines = gold_lines(store.rated_turns())
    assert [line["question"] for line in lines] == ["Standalone question 2?", "Standalone question 3?"]
    assert lines[0] == {
        "id": f"feedback-{turns[2].id[:12]}", "question": "Standalone question 2?", "answerable": True,
        "facts": [["2010"], ["40%"]], "sources": ["000_0fda6ccdd058825b"], "answer": "China cut quotas in 2010.",
    }
    gold = tmp_path / "feedback.jsonl"
    gold.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    items = load_gold(gold)
    assert [i.id for i in items] == [line["id"] for line in lines]
    assert items[0].facts == [["2010"], ["40%"]] and items[1].facts == [] and items[1].answer == "Only this one."
