"""Saved conversations in a real browser: the sidebar, a reload, thumbs and corrections, export, delete.

The server is the session's (``tests/e2e/live_server.py``); its conversations
are read back through a ``ConversationStore`` on the same database, so the
test checks what was stored, not only what the page shows.
"""

from __future__ import annotations

import os
from unittest import mock

import pytest

from assistant.conversations import ConversationStore
from assistant.settings import Settings
from assistant.web.owner import BROWSER_COOKIE, owner_for
from tests.e2e.conftest import open_chat
from tests.e2e.test_chat import FINAL, ask, assert_no_xss

pytestmark = pytest.mark.e2e

FOLLOW_UP = "And what is Japan doing?"
CORRECTION = "Japan is stockpiling rare earths and funding mines abroad to rely less on China."


def server_settings(server) -> Settings:
    """The server's settings (its environment), hence its conversations database."""
    with mock.patch.dict(os.environ, server.env, clear=True):
        return Settings()


def store_and_owner(page, server) -> tuple[ConversationStore, str]:
    """The server's conversation store, and the owner this page's browser is to it."""
    settings = server_settings(server)
    cookies = {c["name"]: c["value"] for c in page.context.cookies() if c["name"] == BROWSER_COOKIE}
    assert cookies, "the chat did not give this browser a session cookie"
    return ConversationStore(settings.conversations_url), owner_for(settings, cookies)


def listed(page) -> list[str]:
    return [label.inner_text().strip() for label in page.locator("#conversation-list label").all()]


def wait_answers(page, count: int) -> None:
    page.wait_for_function("([sel, n]) => document.querySelectorAll(sel).length === n", arg=[FINAL, count])


def reload(page, answers: int) -> None:
    page.reload()
    page.locator("#new-conversation").wait_for(state="visible")
    wait_answers(page, answers)


def test_a_conversation_survives_a_reload_and_takes_a_correction(chat, server, output_dir) -> None:
    page = chat
    first_question = page.locator("#suggestion-0").inner_text().strip()
    ask(page, click=page.locator("#suggestion-0"))
    page.locator("#conversation-list label.selected", has_text=first_question).wait_for()
    follow, _ = ask(page, FOLLOW_UP)
    assert "ans-error" not in follow.get_attribute("class")
    follow_text = follow.inner_text()

    # A second conversation; the list has both, the most recent first.
    page.locator("#new-conversation").click()
    page.wait_for_function("document.querySelectorAll('#chat .ans').length === 0")
    assert page.locator("#conversation-list label.selected").count() == 0
    second_question = page.locator("#suggestion-1").inner_text().strip()
    ask(page, click=page.locator("#suggestion-1"))
    page.locator("#conversation-list label.selected", has_text=second_question).wait_for()
    assert listed(page) == [second_question, first_question]

    # Opening the first shows its turns rendered like live answers, with chips and sources.
    page.locator("#conversation-list label", has_text=first_question).click()
    page.wait_for_function("t => (document.querySelector('#chat .msg-user') || {}).innerText === t",
                           arg=first_question)
    wait_answers(page, 2)
    assert [u.inner_text().strip() for u in page.locator("#chat .msg-user").all()] == [first_question, FOLLOW_UP]
    assert page.locator(FINAL).first.locator("a.cite-chip").count() >= 1
    assert page.locator("#sources .source-card").count() >= 1
    page.screenshot(path=str(output_dir / "conversation-list.png"))

    # A reload comes back to the open conversation.
    reload(page, 2)
    page.locator("#conversation-list label.selected", has_text=first_question).wait_for()
    assert [u.inner_text().strip() for u in page.locator("#chat .msg-user").all()] == [first_question, FOLLOW_UP]
    assert page.locator(FINAL).last.inner_text() == follow_text
    assert page.locator("#sources .source-card").count() >= 1

    # Thumbs-down on the follow-up's answer: the form asks for the right answer.
    page.locator("#chat button[aria-label='Dislike']").last.click()
    form = page.locator("#feedback-form")
    form.wait_for(state="visible")
    assert FOLLOW_UP in page.locator("#feedback-head").inner_text()
    page.locator("#feedback-comment textarea").fill("It lists what others do, not Japan's plan.")
    page.locator("#feedback-correction textarea").fill(CORRECTION)
    page.locator("#feedback-facts textarea").fill("stockpiling, mines abroad")
    form.scroll_into_view_if_needed()
    page.screenshot(path=str(output_dir / "feedback-form.png"))

    # Bad input: the store's message, naming the field, and the form stays open as typed.
    page.locator("#feedback-facts textarea").fill("\n".join(f"fact {i}" for i in range(21)))
    page.locator("#feedback-send").click()
    error = page.locator("#feedback-status .notice.err")
    error.wait_for()
    assert "facts has 21 items" in error.inner_text() and form.is_visible()
    page.screenshot(path=str(output_dir / "feedback-error.png"))

    page.locator("#feedback-facts textarea").fill("stockpiling, mines abroad")
    page.locator("#feedback-send").click()
    page.locator("#feedback-status .notice.ok").wait_for()
    form.wait_for(state="hidden")

    store, owner = store_and_owner(page, server)
    saved = next(store.get(c.id, owner) for c in store.list(owner) if c.title == first_question)
    # The follow-up was condensed with the conversation's saved turns.
    assert first_question in saved.turns[1].answer["metadata"]["query"]
    feedback = saved.turns[1].feedback
    assert feedback is not None and feedback.rating == "down"
    assert (feedback.correction, feedback.facts) == (CORRECTION, ["stockpiling", "mines abroad"])
    assert saved.turns[0].feedback is None

    # The stored rating is the selected thumb after a reload.
    reload(page, 2)
    page.locator("#chat button[aria-label='Disliked']").wait_for()
    assert page.locator("#chat button[aria-label='Disliked']").count() == 1
    assert_no_xss(page)


def test_rename_export_delete_and_each_browser_sees_its_own(chat, browser, server, output_dir) -> None:
    page = chat
    question = page.locator("#suggestion-2").inner_text().strip()
    ask(page, click=page.locator("#suggestion-2"))
    page.locator("#conversation-list label.selected", has_text=question).wait_for()

    page.locator("#conversation-title input, #conversation-title textarea").fill("Rare earths <b>notes</b>")
    page.locator("#rename-conversation").click()
    page.locator("#conversation-list label.selected", has_text="Rare earths <b>notes</b>").wait_for()
    with page.expect_download() as download:
        page.locator("#export-md").click()
    markdown = download.value.path().read_text(encoding="utf-8")
    assert markdown.startswith("# Rare earths <b>notes</b>") and f"## {question}" in markdown
    assert "**Sources**" in markdown and download.value.suggested_filename == "Rare-earths-b-notes-b.md"

    other = open_chat(browser, server)
    try:
        other.locator("#new-conversation").wait_for(state="visible")
        other.wait_for_timeout(500)  # the list is filled by the load event
        assert listed(other) == [] and other.locator("#conversations-empty").is_visible()
    finally:
        other.context.close()

    page.locator("#delete-conversation").click()
    page.locator("#confirm-delete").click()
    page.locator("#conversation-status .notice.ok", has_text="deleted").wait_for()
    page.wait_for_function("document.querySelectorAll('#chat .ans').length === 0")
    assert listed(page) == []
    store, owner = store_and_owner(page, server)
    assert store.list(owner) == []
    reload(page, 0)
    assert listed(page) == [] and page.locator("#chat .msg-user").count() == 0
    assert_no_xss(page)
