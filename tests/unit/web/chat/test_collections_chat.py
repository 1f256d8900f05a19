"""The chat's collections: the selector picks where questions go, the documents panel manages them.

Two collections share every word but their facts (a zinc mine in Peru with 400
people, one in Chile with 900), so an answer or a document list from the wrong
one is told apart by its number. A real ``AnswerService`` over hashing
embeddings and the extractive generator answers, as on a server.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant import Assistant
from assistant.answer import Answer, Citation
from assistant.web.chat.app import build_ui
from assistant.web.chat.handlers import ChatHandlers
from assistant.web.chat.render import chip, render_answer, render_sources_panel
from assistant.web.chat.view import read
from assistant.web.service import AnswerService
from tests.fakes import HashingEmbeddings
from tests.unit.web.chat.conftest import browser

QUESTION = "How many people does the zinc mine employ?"


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def root(tmp_path: Path) -> Assistant:
    """The server's collection ("assistant") holds Peru; a collection "chile" holds Chile."""
    assistant = Assistant(index_dir=tmp_path / "index", llm="extractive", embeddings=HashingEmbeddings(),
                          abstain_threshold=0.1)
    assistant.ingest([write(tmp_path / "peru", "peru.md", "# Zinc in Peru\n\nThe zinc mine in Peru employs 400 people.\n")])
    assistant.collections.create("chile")
    assistant.for_collection("chile").ingest(
        [write(tmp_path / "chile", "chile.md", "# Zinc in Chile\n\nThe zinc mine in Chile employs 900 people.\n")]
    )
    return assistant


@pytest.fixture
def chat(root: Assistant) -> ChatHandlers:
    return ChatHandlers(root, AnswerService(root))


def answer_in(chat: ChatHandlers, collection: str | None, question: str = QUESTION, open_id: str | None = None,
              who: str = "a") -> dict:
    """Ask like the browser does (the selector's value as ``collection``); the last outputs."""
    last: dict = {}
    for outputs in chat.respond(question, [], [], open_id, 5, "extractive", collection, browser(who)):
        last = {**last, **read(outputs)}
    return last


def test_questions_go_to_the_picked_collection_and_cite_only_it(chat: ChatHandlers) -> None:
    chile = answer_in(chat, "chile")
    bubble = chile["transcript"][-1]["content"]
    assert "900" in bubble and "400" not in bubble
    assert "#cite:1:" in bubble and ":chile" in bubble  # the chip names the collection for the viewer
    assert 'class="ans-collection"' in bubble and ">chile</span>" in bubble
    # The sources panel reads the cited text from Chile's index, in context.
    assert 'data-doc="chile"' in chile["sources"] and 'data-collection="chile"' in chile["sources"]
    assert "<mark>" in chile["sources"] and "900" in chile["sources"]

    peru = answer_in(chat, "assistant")
    assert "400" in peru["transcript"][-1]["content"] and "900" not in peru["transcript"][-1]["content"]
    assert 'data-collection="assistant"' in peru["sources"]


def test_an_unknown_collection_is_an_error_in_the_chat(chat: ChatHandlers) -> None:
    gone = answer_in(chat, "atlantis")
    assert "ans-error" in gone["transcript"][-1]["content"] and "atlantis" in gone["transcript"][-1]["content"]
    assert gone["open_id"] is None  # the conversation made for it was removed again


def test_switching_starts_a_new_chat_with_that_collections_documents(chat: ChatHandlers) -> None:
    answered = answer_in(chat, "assistant")
    assert answered["open_id"]
    switched = read(chat.collections.switch("chile"))
    assert switched["open_id"] is None and switched["transcript"] == [] and switched["turns"] == []
    assert switched["collection"]["value"] == "chile"
    assert ("chile · 1 document", "chile") in switched["collection"]["choices"]
    assert 'data-collection="chile"' in switched["documents"] and "Zinc in Chile" in switched["documents"]
    assert "Zinc in Peru" not in switched["documents"]
    assert switched["document_pick"]["choices"] == [("Zinc in Chile (chile)", "chile")]
    assert "chile" in switched["collection_status"] and "new conversation" in switched["collection_status"]
    assert "Sources appear here" in switched["sources"]
    assert "question" not in switched  # a question typed before picking the collection stays in the box

    missing = read(chat.collections.switch("atlantis"))
    assert missing["collection"]["value"] == "assistant" and "warn" in missing["collection_status"]


def test_suggestions_follow_the_collection(chat: ChatHandlers, monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[str] = []

    def questions(self: Assistant) -> list[str]:
        asked.append(self.settings.collection)
        return [f"What about {self.settings.collection}?"]

    monkeypatch.setattr(Assistant, "suggested_questions", questions)
    switched = read(chat.collections.switch("chile"))
    assert switched["suggestions"][1]["value"] == "What about chile?"
    assert read(chat.clear("chile"))["suggestions"][1]["value"] == "What about chile?"
    assert read(chat.clear(None))["suggestions"][1]["value"] == "What about assistant?"
    assert asked == ["chile", "chile", "assistant"]


def test_create_a_collection_or_say_why_not(chat: ChatHandlers, root: Assistant) -> None:
    bad = read(chat.collections.create("../x", "assistant"))
    assert "err" in bad["collection_status"] and "path characters" in bad["collection_status"]
    assert "collection" not in bad and "transcript" not in bad  # nothing else moves
    taken = read(chat.collections.create("chile", "assistant"))
    assert "already exists" in taken["collection_status"]
    empty = read(chat.collections.create("   ", "assistant"))
    assert "empty" in empty["collection_status"]

    made = read(chat.collections.create(" tin-mines ", "assistant"))
    assert "tin-mines" in root.collections.names()
    assert made["collection"]["value"] == "tin-mines" and made["new_collection"] == ""
    assert ("tin-mines · 0 documents", "tin-mines") in made["collection"]["choices"]
    assert "No documents" in made["documents"] and made["document_pick"]["choices"] == []
    assert "Created" in made["collection_status"] and made["open_id"] is None


def test_upload_goes_to_the_picked_collection(chat: ChatHandlers, root: Assistant, tmp_path: Path) -> None:
    chat.collections.create("tin-mines", "assistant")
    bolivia = write(tmp_path / "incoming", "bolivia.md", "# Tin in Bolivia\n\nThe tin mine in Bolivia employs 70 people.\n")
    done = read(chat.documents.upload([str(bolivia)], "tin-mines", lambda *_a, **_k: None))
    assert "Added: bolivia" in done["upload_status"] and done["files"] is None
    assert [d["id"] for d in root.for_collection("tin-mines").documents()] == ["bolivia"]
    assert [d["id"] for d in root.documents()] == ["peru"]
    assert "Tin in Bolivia" in done["documents"]
    assert ("tin-mines · 1 document", "tin-mines") in done["collection"]["choices"]
    assert "value" not in done["collection"]  # the selector keeps whatever is picked by now

    nothing = read(chat.documents.upload(None, "tin-mines", lambda *_a, **_k: None))
    assert "Choose" in nothing["upload_status"] and "documents" not in nothing


def test_delete_a_document_is_asked_twice(chat: ChatHandlers, root: Assistant) -> None:
    docs = chat.documents
    assert "Pick a document" in read(docs.ask_delete(None))["document_status"]
    asked = read(docs.ask_delete("chile"))
    assert asked["document_confirm"]["visible"] is True
    assert [d["id"] for d in root.for_collection("chile").documents()] == ["chile"]  # not yet
    assert read(docs.keep())["document_confirm"]["visible"] is False

    deleted = read(docs.delete("chile", "chile"))
    assert "Deleted chile" in deleted["document_status"]
    assert root.for_collection("chile").documents() == []
    assert [d["id"] for d in root.documents()] == ["peru"]  # the other collection is untouched
    assert "No documents" in deleted["documents"] and deleted["document_confirm"]["visible"] is False
    assert ("chile · 0 documents", "chile") in deleted["collection"]["choices"]

    again = read(docs.delete("chile", "chile"))
    assert "err" in again["document_status"] and "chile" in again["document_status"]


def test_reindex_a_document(chat: ChatHandlers, root: Assistant, tmp_path: Path) -> None:
    write(tmp_path / "chile", "chile.md", "# Zinc in Chile\n\nThe zinc mine in Chile employs 950 people.\n")
    done = read(chat.documents.reindex("chile", "chile"))
    assert "Re-indexed chile" in done["document_status"] and "updated 1" in done["document_status"]
    assert "950" in root.for_collection("chile").document_text("chile")
    assert "Pick a document" in read(chat.documents.reindex(None, "chile"))["document_status"]

    (tmp_path / "peru" / "peru.md").unlink()
    gone = read(chat.documents.reindex("peru", "assistant"))
    assert "err" in gone["document_status"] and "is gone" in gone["document_status"]


def test_opening_a_saved_conversation_picks_its_collection(chat: ChatHandlers, root: Assistant) -> None:
    first = answer_in(chat, "chile")
    cid = first["open_id"]
    # A reload with the selector back on the server's collection.
    restored = read(chat.conversations.restore(cid, "assistant", browser("a")))
    assert restored["open_id"] == cid and restored["collection"]["value"] == "chile"
    assert "asks the \u201cchile\u201d collection" in restored["collection_status"]
    assert "Zinc in Chile" in restored["documents"]
    assert "900" in restored["sources"] and "<mark>" in restored["sources"]
    # A follow-up then goes to Chile (the browser sends the selector's value).
    follow = answer_in(chat, restored["collection"]["value"], "And the mine in Chile?", cid)
    assert "900" in follow["transcript"][-1]["content"]

    # Without an open conversation, the load refreshes the collections and the picked one's documents.
    plain = read(chat.conversations.restore(None, "chile", browser("a")))
    assert plain["collection"]["value"] == "chile" and "Zinc in Chile" in plain["documents"]

    root.collections.delete("chile")
    root.forget_collection("chile")
    orphan = read(chat.conversations.restore(cid, "chile", browser("a")))
    assert orphan["collection"]["value"] == "assistant"
    assert "no longer exists" in orphan["collection_status"]
    assert "900" in orphan["sources"]  # the saved snippet still shows, without its context


def test_chips_and_cards_name_their_collection() -> None:
    cited = Citation(id=2, source="doc a", title="T", section="", snippet="x", start=3, end=4, score=1.0)
    assert 'href="#cite:2:3:4:doc%20a"' in chip(cited)
    assert 'href="#cite:2:3:4:doc%20a:my-docs"' in chip(cited, "my-docs")
    answer = Answer(text="x [2].", citations=[cited], metadata={"collection": "my-docs"})
    assert 'data-collection="my-docs"' in render_sources_panel(answer, {})
    assert ">my-docs</span>" in render_answer(answer)
    old = Answer(text="x [2].", citations=[cited])  # saved before collections: no tag, no collection
    assert "ans-collection" not in render_answer(old) and ':my-docs"' not in render_answer(old)


def test_the_page_builds_with_the_selector_on_the_servers_collection(root: Assistant) -> None:
    demo = build_ui(root)
    config = demo.get_config_file()
    by_id = {c["props"].get("elem_id"): c["props"] for c in config["components"] if c.get("props")}
    assert by_id["collection"]["value"] == "assistant"
    assert [choice[1] for choice in by_id["collection"]["choices"]] == ["assistant", "chile"]
    for elem_id in ("new-collection", "create-collection", "documents", "document-pick", "document-open",
                    "document-reindex", "document-delete", "document-confirm"):
        assert elem_id in by_id, elem_id
    public = {d.get("api_name") for d in config["dependencies"] if d.get("api_visibility") == "public"}
    assert public == {"ask", "chat", "lambda_5"}
