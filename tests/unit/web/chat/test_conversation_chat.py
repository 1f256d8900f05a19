"""The chat's conversations: questions are saved, a reload reopens them, the sidebar manages them."""

from __future__ import annotations

from pathlib import Path

import gradio as gr

from assistant.web.chat.handlers import ChatHandlers
from assistant.web.chat.layout import build_layout
from assistant.web.chat.saved import file_stem
from assistant.web.chat.view import View, read, view_components
from tests.unit.web.chat.conftest import ANSWER, browser, failing


def ask(handlers: ChatHandlers, question: str, state: dict, request: gr.Request) -> dict:
    """Run ``respond`` to the end like the browser would, carrying the states; the last outputs."""
    last: dict = {}
    for outputs in handlers.respond(question, state["transcript"], state["turns"], state["open_id"], 5,
                                    "extractive", state.get("collection"), request):
        last = read(outputs)
        state.setdefault("shown", []).append(last)
        for name in ("transcript", "turns", "open_id"):
            if name in last:
                state[name] = last[name]
    return last


def empty_state() -> dict:
    return {"transcript": [], "turns": [], "open_id": None}


def test_the_view_fills_every_output_in_order(make_assistant) -> None:
    with gr.Blocks():
        layout = build_layout(make_assistant())
    outputs = View(open_id="x", question="").outputs()
    assert len(outputs) == len(view_components(layout))
    assert read(outputs) == {"open_id": "x", "question": ""}


def test_a_question_starts_a_saved_conversation_and_follow_ups_use_it(handlers, assistant, service) -> None:
    state, me = empty_state(), browser("a")
    first = ask(handlers, "Where are rare earths refined?", state, me)
    cid = state["open_id"]
    saved = assistant.conversations.get(cid, "browser:" + "a" * 32)
    assert [t.question for t in saved.turns] == ["Where are rare earths refined?"]
    assert state["turns"][0]["id"] == saved.turns[0].id
    assert first["listing"]["choices"] == [("Where are rare earths refined?", cid)]
    assert first["listing"]["value"] == cid
    assert first["export_md"].endswith(".md") and Path(first["export_md"]).read_text().startswith("# Where")
    assert "cite-chip" in state["transcript"][-1]["content"]

    ask(handlers, "And who else?", state, me)
    assert state["open_id"] == cid and len(state["turns"]) == 2
    assert service.calls[-1]["conversation_id"] == cid and service.calls[-1]["history"] is None
    assert len(assistant.conversations.get(cid, "browser:" + "a" * 32).turns) == 2


def test_a_failed_first_question_leaves_no_empty_conversation(handlers, assistant, service) -> None:
    service.error = failing()
    state = empty_state()
    ask(handlers, "Where are rare earths refined?", state, browser("a"))
    assert state["open_id"] is None
    assert assistant.conversations.list("browser:" + "a" * 32) == []
    assert "not loaded" in state["transcript"][-1]["content"]
    assert state["turns"][-1]["id"] is None  # its thumbs say it cannot be rated


def test_a_reload_reopens_the_conversation_only_for_its_owner(handlers) -> None:
    state = empty_state()
    ask(handlers, "Where are rare earths refined?", state, browser("a"))
    mine = read(handlers.conversations.restore(state["open_id"], None, browser("a")))
    assert mine["open_id"] == state["open_id"]
    assert [t["question"] for t in mine["turns"]] == ["Where are rare earths refined?"]
    assert mine["chatbot"]["value"][1]["content"] == state["transcript"][1]["content"]  # rendered like live
    assert "refined in China" in mine["sources"]
    assert mine["suggestions"][1]["value"] == ANSWER.follow_ups[0]

    theirs = read(handlers.conversations.restore(state["open_id"], None, browser("b")))
    assert theirs["open_id"] is None and theirs["listing"]["choices"] == []
    assert "chatbot" not in theirs
    assert read(handlers.conversations.restore("not-an-id", None, browser("a")))["open_id"] is None


def test_rename_export_and_delete(handlers, assistant) -> None:
    state, me = empty_state(), browser("a")
    ask(handlers, "Where are rare earths refined?", state, me)
    cid = state["open_id"]
    renamed = read(handlers.conversations.rename(cid, "  Refining:  who? ", me))
    assert renamed["title"] == "Refining: who?"
    assert renamed["listing"]["choices"] == [("Refining: who?", cid)]
    assert Path(renamed["export_json"]).name == f"{file_stem('Refining: who?')}.json"
    assert '"title": "Refining: who?"' in Path(renamed["export_json"]).read_text()

    refused = read(handlers.conversations.rename(cid, "   ", me))
    assert "title" in refused["panel_status"] and "err" in refused["panel_status"]

    assert read(handlers.conversations.delete(cid, None, browser("b")))["panel_status"].count("No conversation") == 1
    deleted = read(handlers.conversations.delete(cid, None, me))
    assert deleted["open_id"] is None and deleted["chatbot"]["value"] == [] and deleted["listing"]["choices"] == []
    assert assistant.conversations.list("browser:" + "a" * 32) == []
    assert not Path(renamed["export_json"]).exists()


def test_new_conversation_empties_the_chat_but_keeps_the_saved_one(handlers, assistant) -> None:
    state = empty_state()
    ask(handlers, "Where are rare earths refined?", state, browser("a"))
    fresh = read(handlers.clear())
    assert fresh["open_id"] is None and fresh["transcript"] == [] and fresh["turns"] == []
    assert fresh["suggestions"][1]["value"] == "What is refined where?"
    assert len(assistant.conversations.list("browser:" + "a" * 32)) == 1


def test_without_a_database_the_chat_still_answers_with_its_own_history(handlers, assistant, service,
                                                                         monkeypatch) -> None:
    def broken(*_args, **_kwargs):
        raise failing()

    monkeypatch.setattr(assistant.conversations, "create", broken)
    state = empty_state()
    ask(handlers, "Where are rare earths refined?", state, browser("a"))
    assert state["open_id"] is None
    assert "not being saved" in state["shown"][0]["panel_status"] and "not loaded" in state["shown"][0]["panel_status"]
    ask(handlers, "And who else?", state, browser("a"))
    assert service.calls[-1]["conversation_id"] is None
    assert service.calls[-1]["history"] == [
        {"role": "user", "content": "Where are rare earths refined?"},
        {"role": "assistant", "content": ANSWER.text},
    ]
