"""The chat in a real browser: streaming, chips, sources, viewer, suggestions, follow-ups,
abstention, escaping, uploads and the phone layout. Screenshots go to the output folder."""

from __future__ import annotations

import json
import re

import httpx
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import PHONE, open_chat

pytestmark = pytest.mark.e2e

FINAL = "#chat .ans:not(.ans-streaming)"
XSS_QUESTION = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script> What is sourdough?'
POISONED = (
    "# Zorblax mining report <script>window.__xss=3</script>\n\n"
    "Zorblax ore is mined in the Atlantis valley <img src=x onerror=\"window.__xss=4\"> by deep-sea robots, "
    "the Zorblax Mining Board said. <b>bold</b> & <iframe src=\"javascript:window.__xss=5\"></iframe>\n"
)


def squash(text: str) -> str:
    return " ".join(text.split())


def ask(page, question: str | None = None, click=None, timeout: int = 90_000):
    """Send a question (typed, or by clicking a suggestion) and wait for its final bubble."""
    before = page.locator(FINAL).count()
    page.evaluate("window.__streamLog = []")
    started = page.evaluate("performance.now()")
    if click is not None:
        click.click()
    else:
        box = page.locator("#question textarea")
        box.fill(question or "")
        box.press("Enter")
    page.wait_for_function(
        "([sel, n]) => document.querySelectorAll(sel).length > n", arg=[FINAL, before], timeout=timeout
    )
    finished = page.evaluate("performance.now()")
    log = page.evaluate("window.__streamLog")
    return page.locator(FINAL).nth(before), {"started": started, "finished": finished, "log": log}


def assert_no_xss(page) -> None:
    assert page.evaluate("window.__xss") is None
    assert page.dialogs == []


def open_first_chip(page, answer) -> str:
    chip = answer.locator("a.cite-chip").first
    chip.click()
    mark = page.locator("#doc-viewer #doc-highlight")
    mark.wait_for(state="visible")
    body = page.locator("#doc-viewer .doc-body").bounding_box()
    box = mark.bounding_box()
    assert body and box and body["y"] - 1 <= box["y"] <= body["y"] + body["height"], "highlight not scrolled into view"
    return mark.inner_text()


def test_ask_stream_cite_view_follow_up_copy_clear(chat, server, output_dir) -> None:
    page = chat
    suggested = httpx.get(server.url + "/api/suggestions", timeout=30).json()
    # Waited for: while the page's load event runs, Gradio lays "processing | 0.1s" over the panel.
    expect(page.locator("#sugg-title")).to_have_text("Go deeper", timeout=30_000)
    for i, question in enumerate(suggested[:4]):
        expect(page.locator(f"#suggestion-{i}")).to_have_text(question, timeout=30_000)
    page.screenshot(path=str(output_dir / "desktop-empty.png"), full_page=True)

    # A Go deeper question: a live bubble first, then chips and sources. (The extractive
    # generator writes its whole answer at once; token streaming is checked with the LLM below.)
    answer, timing = ask(page, click=page.locator("#suggestion-0"))
    assert "ans-ok" in answer.get_attribute("class") or "ans-conflicted" in answer.get_attribute("class")
    assert timing["log"], "no streaming bubble was shown before the answer"
    chips = answer.locator("a.cite-chip")
    assert chips.count() >= 1
    cards = page.locator("#sources .source-card")
    assert cards.count() >= 1 and cards.first.locator("mark").count() == 1
    assert page.locator("#chat .msg-user").first.inner_text().strip() == suggested[0]
    page.screenshot(path=str(output_dir / "desktop-answer.png"), full_page=True)

    # A chip opens the whole document at the cited span, highlighted.
    highlighted = open_first_chip(page, answer)
    assert squash(highlighted) == squash(cards.first.locator("mark").inner_text())
    page.screenshot(path=str(output_dir / "desktop-viewer.png"))
    page.keyboard.press("Escape")
    page.locator("#doc-viewer").wait_for(state="hidden")

    # So does a source card.
    last = cards.nth(cards.count() - 1)
    last.click()
    page.locator("#doc-viewer #doc-highlight").wait_for(state="visible")
    assert squash(page.locator("#doc-highlight").inner_text()) == squash(last.locator("mark").inner_text())
    page.locator("#doc-viewer .doc-close").click()
    page.locator("#doc-viewer").wait_for(state="hidden")

    # Follow-up suggestions after the answer; clicking one asks it.
    assert page.locator("#sugg-title").inner_text().strip() == "Follow-up questions"
    follow = page.locator("#suggestions button.suggestion:visible")
    assert 1 <= follow.count() <= 3
    follow_text = follow.first.inner_text().strip()
    second, _ = ask(page, click=follow.first)
    assert page.locator("#chat .msg-user").nth(1).inner_text().strip() == follow_text
    assert second.locator("a.cite-chip").count() >= 1

    # A follow-up that only makes sense in context.
    third, _ = ask(page, "And what is Japan doing?")
    assert "ans-error" not in third.get_attribute("class")
    assert "Japan" in third.inner_text()

    # Copy puts the answer text with its [n] markers and sources on the clipboard.
    third.locator("button.copy-answer").click()
    page.wait_for_function("document.querySelector('#chat .copy-answer.copied') !== null")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert "[1]" in copied and "Japan" in copied

    # Clear empties the chat and brings back the Go deeper questions.
    page.locator("#clear").click()
    page.wait_for_function("document.querySelectorAll('#chat .ans').length === 0")
    page.locator("#sugg-title", has_text="Go deeper").wait_for()
    assert "Sources appear here" in page.locator("#sources").inner_text()
    assert_no_xss(page)


def test_abstention_and_html_in_a_question_are_shown_as_text(chat, output_dir) -> None:
    page = chat
    answer, _ = ask(page, XSS_QUESTION)
    user = page.locator("#chat .msg-user").last
    assert "<script>window.__xss=2</script>" in user.inner_text()
    assert page.locator("#chat img[src='x']").count() == 0
    assert "ans-abstained" in answer.get_attribute("class")
    assert "Not in the documents" in answer.inner_text()
    assert answer.locator("a.cite-chip").count() == 0
    assert "do not answer" in page.locator("#sources").inner_text()
    page.locator("#sugg-title", has_text="Go deeper").wait_for()  # something to try instead
    page.screenshot(path=str(output_dir / "desktop-abstained.png"), full_page=True)
    assert_no_xss(page)


def test_a_question_about_the_documents_gets_their_openings_with_chips(chat, output_dir) -> None:
    page = chat
    answer, _ = ask(page, "What are these documents about?")
    assert "ans-abstained" not in answer.get_attribute("class")
    page.screenshot(path=str(output_dir / "desktop-overview.png"), full_page=True)
    assert squash(answer.inner_text()).startswith("There are 2 documents.")
    assert "Sources (2)" in answer.inner_text() and answer.locator("a.cite-chip").count() >= 2
    assert "Global Powers Race" in page.locator("#sources").inner_text()
    assert_no_xss(page)


def test_upload_refuses_by_name_and_a_poisoned_document_stays_inert(chat, server, output_dir, tmp_path) -> None:
    page = chat
    # Plain text keeps its HTML as written (Markdown's is dropped at ingest), so the page must show it inert.
    poisoned = tmp_path / "zorblax<script>.txt"
    poisoned.write_text(POISONED, encoding="utf-8")
    binary = tmp_path / "binary.txt"
    binary.write_bytes(b"\x00\x01\x02 not text")
    page.locator("#upload-panel").get_by_text("Documents", exact=True).click()
    page.locator("#upload input[type=file]").set_input_files([str(poisoned), str(binary)])
    page.wait_for_function("(document.querySelector('#upload') || {}).innerText.includes('binary')")
    page.locator("#upload-btn").click()
    status = page.locator("#upload-status")
    status.locator(".upload-msg.ok").wait_for()
    text = status.inner_text()
    added = re.search(r"Added: (zorblax\w*)", text)  # Gradio and our sanitiser both clean the name
    assert added, text
    doc_id = added.group(1)
    assert "Refused binary.txt" in text and "binary" in text.split("Refused binary.txt")[1]
    uploads = sorted(p.name for p in (server.index_dir / "uploads").iterdir())
    assert f"{doc_id}.txt" in uploads and "binary.txt" not in uploads
    assert all(re.fullmatch(r"[A-Za-z0-9._-]+", name) for name in uploads)
    assert doc_id in page.locator("#documents").inner_text()
    page.screenshot(path=str(output_dir / "desktop-upload.png"), full_page=True)

    answer, _ = ask(page, "Where is Zorblax ore mined, and by what?")
    assert "ans-ok" in answer.get_attribute("class") or "ans-conflicted" in answer.get_attribute("class")
    assert "<img src=x" in answer.inner_text()
    assert page.locator("#chat img[src='x'], #sources img, #chat iframe, #sources iframe").count() == 0
    assert "Atlantis" in page.locator("#sources").inner_text()
    chip = answer.locator("a.cite-chip").first
    chip.click()
    page.locator("#doc-viewer #doc-highlight").wait_for(state="visible")
    viewer_text = page.locator("#doc-viewer .doc-body").inner_text()
    assert "<script>window.__xss=3</script>" in viewer_text
    assert page.locator("#doc-viewer img, #doc-viewer script, #doc-viewer iframe").count() == 0
    page.screenshot(path=str(output_dir / "desktop-poisoned-viewer.png"))
    page.keyboard.press("Escape")
    assert_no_xss(page)


def test_phone_layout(browser, server, output_dir) -> None:
    page = open_chat(browser, server, PHONE)
    try:
        page.screenshot(path=str(output_dir / "phone-empty.png"), full_page=True)
        answer, _ = ask(page, click=page.locator("#suggestion-1"))
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, f"page is {overflow}px wider than the phone"
        page.screenshot(path=str(output_dir / "phone-answer.png"), full_page=True)
        open_first_chip(page, answer)
        panel = page.locator("#doc-viewer .doc-panel").bounding_box()
        assert panel and panel["width"] <= PHONE["width"]
        page.screenshot(path=str(output_dir / "phone-viewer.png"))
        assert_no_xss(page)
    finally:
        page.context.close()


def test_streams_tokens_from_the_local_llm(chat, output_dir) -> None:
    """The one test with the real SmolLM2 generator, picked in the settings panel."""
    page = chat
    page.locator("#settings").get_by_text("Settings").click()
    page.locator("#generator").get_by_test_id("llamacpp-radio-label").click()
    # Picking the generator starts loading the model; the question then streams from it.
    answer, timing = ask(page, click=page.locator("#suggestion-0"), timeout=240_000)
    log = timing["log"]
    assert len({e["len"] for e in log if e["len"] > 0}) >= 2, f"not streamed sentence by sentence: {log}"
    # Only verified sentences are shown, so the text on screen only grows: no draft is replaced.
    shown = [squash(e["text"]) for e in log if e["len"] > 0]
    assert all(later.startswith(earlier) for earlier, later in zip(shown, shown[1:], strict=False)), shown
    first = next(e["t"] for e in log if e["len"] > 0)
    result = {
        "first_token_s": round((first - timing["started"]) / 1000, 3),
        "answer_s": round((timing["finished"] - timing["started"]) / 1000, 3),
        "stream_updates": len(log),
        "generator": answer.get_attribute("class"),
    }
    (output_dir / "llm-timing.json").write_text(json.dumps(result, indent=2))
    print("browser timing with llamacpp:", result)
    assert "ans-error" not in answer.get_attribute("class")
    page.screenshot(path=str(output_dir / "desktop-llm-answer.png"), full_page=True)
    assert_no_xss(page)
