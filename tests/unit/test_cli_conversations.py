"""``assistant chat``, ``conversations`` and ``feedback`` over a temp index of the seeds (fake embeddings).

One assistant (extractive, hashing embeddings) is injected the way the other
CLI tests do it; its conversations database lives in the temp index folder.
"""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner

from assistant.cli import main
from assistant.evaluation.harness import load_gold
from tests.conftest import EXPLAINER, SEEDS

QUESTIONS = [
    "How is China enforcing its rare earth export restrictions?",
    "What steps is the US taking to reduce dependence on Chinese rare earths?",
]
ID = r"[0-9a-f]{32}"


@pytest.fixture
def assistant(make_assistant, monkeypatch):
    built = make_assistant()
    built.ingest([SEEDS])
    monkeypatch.setattr("assistant.cli._assistant", lambda **overrides: built)
    return built


def run(*args: str, input: str | None = None, ok: bool = True):
    result = CliRunner().invoke(main, list(args), input=input)
    if ok:
        assert result.exit_code == 0, result.output
    return result


def chat_session(assistant) -> tuple[str, list[str], str]:
    """Two questions piped into ``assistant chat``, the second rated and corrected."""
    result = run("chat", input=f"{QUESTIONS[0]}\n\n{QUESTIONS[1]}\n/rate down too vague\n"
                                "/correct The US funds domestic mines such as MP Materials.\n")
    conversation = re.search(rf"Conversation ({ID}) \(new\)", result.stdout).group(1)
    turns = re.findall(rf"^turn ({ID})$", result.stdout, flags=re.M)
    return conversation, turns, result.stdout


def test_chat_answers_each_line_and_saves_the_conversation(assistant):
    conversation, turns, out = chat_session(assistant)
    assert len(turns) == 2
    assert "[1] " in out and '    "' in out  # the sources with their snippets, as `ask` prints them
    assert f"Rated turn {turns[1]} down." in out and f"Saved a correction of turn {turns[1]}" in out
    assert out.rstrip().endswith(f"resume with `assistant chat --resume {conversation}`.")
    saved = assistant.conversations.get(conversation)
    assert [t.question for t in saved.turns] == QUESTIONS and [t.id for t in saved.turns] == turns
    assert saved.turns[1].feedback.correction == "The US funds domestic mines such as MP Materials."
    assert saved.turns[0].feedback is None and saved.title == QUESTIONS[0]


def test_chat_resume_continues_the_same_conversation(assistant):
    conversation, turns, _ = chat_session(assistant)
    result = run("chat", "--resume", conversation, input="/exit\nWhy are rare earths critical?\n")
    assert f"Resuming conversation {conversation} (2 turns)" in result.stdout
    assert re.findall(rf"^turn {ID}$", result.stdout, flags=re.M) == [] and "saved (2 turns)" in result.stdout
    result = run("chat", "--resume", conversation, input="Why are rare earths critical to defense industries?\n")
    assert "saved (3 turns)" in result.stdout
    assert [t.position for t in assistant.conversations.get(conversation).turns] == [0, 1, 2]


def test_chat_keeps_going_after_a_bad_line_and_drops_an_empty_conversation(assistant):
    result = run("chat", input="/rate up\n/frobnicate\n   \n")
    assert "nothing to rate yet" in result.stderr and "unknown command '/frobnicate'" in result.stderr
    assert "had no answers and was not kept" in result.stdout
    assert assistant.conversations.list() == []


def test_feedback_export_with_no_correction_writes_an_empty_file_and_says_why(assistant, tmp_path):
    gold = tmp_path / "gold.jsonl"
    result = run("feedback", "export", "--out", str(gold))
    assert "Wrote 0 gold lines" in result.stdout and "no down-rated answer carries a correction" in result.stdout
    assert gold.read_text() == ""


def test_chat_resume_of_an_unknown_or_malformed_id_exits_2(assistant):
    result = run("chat", "--resume", "0" * 32, input="", ok=False)
    assert result.exit_code == 2 and "No conversation" in result.stderr and "Traceback" not in result.output
    result = run("chat", "--resume", "nope", input="", ok=False)
    assert result.exit_code == 2 and "conversation_id must be an id of 32 hex digits" in result.stderr


def test_conversations_list_show_export_rename_delete(assistant, tmp_path):
    conversation, turns, _ = chat_session(assistant)
    listed = run("conversations").stdout
    assert listed.startswith(f"{conversation}\t2 turns\t") and QUESTIONS[0] in listed
    assert json.loads(run("conversations", "list", "--json").stdout)[0]["id"] == conversation

    shown = run("conversations", "show", conversation).stdout
    assert f"[1] turn {turns[0]}" in shown and f"[2] turn {turns[1]}" in shown
    assert f"Q: {QUESTIONS[1]}" in shown and "rated down; comment: too vague; correction: The US funds" in shown
    data = json.loads(run("conversations", "show", conversation, "--json").stdout)
    assert [t["id"] for t in data["turns"]] == turns

    md = tmp_path / "chat.md"
    run("conversations", "export", conversation, "--format", "md", "--out", str(md))
    text = md.read_text(encoding="utf-8")
    assert f"## {QUESTIONS[0]}" in text and "**Sources**" in text and "   > " in text
    exported = json.loads(run("conversations", "export", conversation, "--format", "json").stdout)
    assert exported == data

    assert "Renamed" in run("conversations", "rename", conversation, "Rare earth policy").stdout
    assert "\tRare earth policy" in run("conversations", "list").stdout
    run("conversations", "delete", conversation)
    assert run("conversations", "list").stdout == ""
    missing = run("conversations", "show", conversation, ok=False)
    assert missing.exit_code == 2 and "No conversation" in missing.stderr


def test_feedback_add_counts_and_export_make_loadable_gold(assistant, tmp_path):
    _, turns, _ = chat_session(assistant)
    added = run("feedback", "add", turns[0], "--rating", "down", "--comment", "missed the quotas",
                "--correction", "China restricts exports with quotas and licences.",
                "--fact", "quota", "--fact", "licence", "--source", EXPLAINER)
    assert f"Rated turn {turns[0]} down with a correction." in added.stdout
    counts = run("feedback").stdout
    assert counts.startswith("up 0, down 2 (2 with a correction)") and re.search(r"\d{4}-W\d\d\s+0\s+2", counts)
    assert json.loads(run("feedback", "--json").stdout)["down_with_correction"] == 2

    gold = tmp_path / "feedback.jsonl"
    result = run("feedback", "export", "--out", str(gold))
    assert f"Wrote 2 gold lines to {gold}" in result.stdout
    items = load_gold(gold)
    assert {i.question for i in items} == set(QUESTIONS)
    first = next(i for i in items if i.question == QUESTIONS[0])
    assert first.facts == [["quota"], ["licence"]] and first.sources == [EXPLAINER] and first.answerable

    run("feedback", "add", turns[0], "--rating", "up")  # the latest rating wins
    run("feedback", "export", "--out", str(gold))
    assert [i.question for i in load_gold(gold)] == [QUESTIONS[1]]


def test_feedback_errors_are_one_line_and_exit_2(assistant, tmp_path):
    _, turns, _ = chat_session(assistant)
    result = run("feedback", "add", turns[0], "--rating", "up", "--correction", "x", ok=False)
    assert result.exit_code == 2 and "go with a 'down' rating" in result.stderr
    result = run("feedback", "add", "not-an-id", "--rating", "up", ok=False)
    assert result.exit_code == 2 and "turn_id must be an id" in result.stderr
    result = run("feedback", "add", turns[0], "--rating", "down", "--comment", "c" * 5000, ok=False)
    assert result.exit_code == 2 and "comment is 5000 characters; the limit is 4000" in result.stderr
    result = run("feedback", "export", "--out", str(tmp_path / "missing" / "gold.jsonl"), ok=False)
    assert result.exit_code == 2 and "does not exist; create it first" in result.stderr
    assert "Traceback" not in result.output
