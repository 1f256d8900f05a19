"""Collections in a real browser: the selector picks where questions go, the viewer reads the
picked collection's document, and the documents panel creates, fills and empties a collection.

Two collections get a document with the same file name, hence the same id
(``zinc-report``), that shares every word but its figures (400 people in Peru,
900 in Chile): an answer, a chip or the viewer showing the wrong collection's
text is told apart by its number. The documents go in through ``POST
/api/upload`` with a ``collection``, which creates it; the page is opened
after, so its selector lists them.
"""

from __future__ import annotations

import re
import uuid

import httpx
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import open_chat
from tests.e2e.test_chat import FINAL, ask, assert_no_xss

pytestmark = pytest.mark.e2e

QUESTION = "How many people does the zinc mine employ?"
REPORT = (
    "# Zinc mining report\n\nThe Andes zinc mine in {place} employs {count} people, the national mining board "
    "said on Monday. Its owner plans to {plan} next year.\n"
)
BOLIVIA = "# Tin mining report\n\nThe Huanuni tin mine in Bolivia employs 70 people, its union said.\n"


def upload(server, collection: str, name: str, text: str) -> dict:
    files = [("files", (name, text.encode("utf-8"), "text/markdown"))]
    res = httpx.post(server.url + "/api/upload", files=files, data={"collection": collection},
                     headers=server.headers(), timeout=120)
    assert res.status_code == 200, res.text
    return res.json()


def documents_of(server, collection: str) -> list[str]:
    res = httpx.get(server.url + "/api/documents", params={"collection": collection}, headers=server.headers(),
                    timeout=30)
    return [d["id"] for d in res.json()]


def choose(page, dropdown: str, label_start: str) -> None:
    """Pick the option of ``#dropdown`` whose label starts with ``label_start``, as a user does."""
    page.locator(f"#{dropdown} input").click()
    page.get_by_role("option", name=re.compile("^" + re.escape(label_start))).click()


def pick_collection(page, name: str) -> None:
    choose(page, "collection", f"{name} ·")
    # Waited for: Gradio lays its "processing" overlay over the status while the switch runs.
    expect(page.locator("#collection-status")).to_contain_text(f"Asking \u201c{name}\u201d", timeout=30_000)


def chip_targets(answer) -> list[str]:
    return [chip.get_attribute("href") or "" for chip in answer.locator("a.cite-chip").all()]


def close_viewer(page) -> None:
    page.keyboard.press("Escape")
    page.locator("#doc-viewer").wait_for(state="hidden")


def test_each_collection_answers_from_its_own_documents(browser, server, output_dir) -> None:
    suffix = uuid.uuid4().hex[:6]
    peru, chile = f"e2e-peru-{suffix}", f"e2e-chile-{suffix}"
    for name, place, count, plan in ((peru, "Peru", 400, "expand the open pit"),
                                     (chile, "Chile", 900, "sell the smelter")):
        assert upload(server, name, "zinc-report.md", REPORT.format(place=place, count=count, plan=plan))["added"] == [
            "zinc-report"
        ]
    page = open_chat(browser, server)  # after the uploads: the page's load lists the collections
    try:
        asked_in_each(page, peru, chile, output_dir)
    finally:
        page.context.close()


def asked_in_each(page, peru: str, chile: str, output_dir) -> None:
    expect(page.locator("#collection input")).to_have_value(re.compile(r"^assistant · "), timeout=30_000)

    pick_collection(page, peru)
    answer, _ = ask(page, QUESTION)
    text = answer.inner_text()
    assert "400" in text and "900" not in text, text
    targets = chip_targets(answer)
    assert targets and all(t.endswith(f":zinc-report:{peru}") for t in targets), targets
    expect(answer.locator(".ans-collection")).to_have_text(peru)
    cards = page.locator("#sources .source-card")
    assert cards.count() >= 1 and {c.get_attribute("data-collection") for c in cards.all()} == {peru}
    answer.locator("a.cite-chip").first.click()
    page.locator("#doc-viewer #doc-highlight").wait_for(state="visible")
    assert "400" in page.locator("#doc-highlight").inner_text()
    expect(page.locator("#doc-viewer .doc-meta")).to_contain_text(peru)
    close_viewer(page)

    # Another collection: a new, empty chat; the same question, the same document id, its own figure.
    pick_collection(page, chile)
    page.wait_for_function("document.querySelectorAll('#chat .ans').length === 0")
    assert "Sources appear here" in page.locator("#sources").inner_text()
    answer, _ = ask(page, QUESTION)
    text = answer.inner_text()
    assert "900" in text and "400" not in text, text
    assert all(t.endswith(f":zinc-report:{chile}") for t in chip_targets(answer))
    answer.locator("a.cite-chip").first.click()
    page.locator("#doc-viewer #doc-highlight").wait_for(state="visible")
    body = page.locator("#doc-viewer .doc-body").inner_text()
    assert "900" in page.locator("#doc-highlight").inner_text() and "400" not in body  # not Peru's cached text
    close_viewer(page)

    # A reload reopens this conversation with its collection picked (the page starts on the server's).
    page.reload()
    page.wait_for_function("([sel, n]) => document.querySelectorAll(sel).length === n", arg=[FINAL, 1])
    expect(page.locator("#collection input")).to_have_value(f"{chile} · 1 document", timeout=30_000)
    assert "900" in page.locator(FINAL).first.inner_text()
    expect(page.locator("#collection-status")).to_contain_text(f"asks the \u201c{chile}\u201d collection")

    # The documents panel lists the picked collection's documents; a title opens the whole document.
    page.locator("#upload-panel").get_by_text("Documents", exact=True).click()
    listing = page.locator("#documents")
    expect(listing).to_contain_text(f"Documents in \u201c{chile}\u201d (1)")
    link = listing.locator("a.doc-link")
    assert link.count() == 1 and link.get_attribute("data-collection") == chile
    page.locator("#collection-row").scroll_into_view_if_needed()
    page.screenshot(path=str(output_dir / "desktop-collections.png"), full_page=True)
    link.click()
    page.locator("#doc-viewer .doc-body").wait_for(state="visible")
    expect(page.locator("#doc-viewer .doc-body")).to_contain_text("employs 900 people")
    assert page.locator("#doc-viewer #doc-highlight").count() == 0
    close_viewer(page)
    assert_no_xss(page)


def test_create_fill_open_and_empty_a_collection_in_the_chat(chat, server, output_dir, tmp_path) -> None:
    page = chat
    name = f"e2e-tin-{uuid.uuid4().hex[:6]}"
    box = page.locator("#new-collection").get_by_role("textbox")
    status = page.locator("#collection-status")

    box.fill("../tin")
    page.locator("#create-collection").click()
    expect(status).to_contain_text("path characters", timeout=30_000)
    box.fill(name)
    box.press("Enter")
    expect(status).to_contain_text(f"Created \u201c{name}\u201d", timeout=30_000)
    expect(page.locator("#collection input")).to_have_value(f"{name} · 0 documents")
    expect(box).to_have_value("")
    box.fill(name)
    page.locator("#create-collection").click()
    expect(status).to_contain_text("already exists", timeout=30_000)

    # An upload from the chat goes into the picked collection, and only there.
    page.locator("#upload-panel").get_by_text("Documents", exact=True).click()
    expect(page.locator("#documents")).to_contain_text("No documents")
    report = tmp_path / "bolivia.md"
    report.write_text(BOLIVIA, encoding="utf-8")
    page.locator("#upload input[type=file]").set_input_files([str(report)])
    page.wait_for_function("(document.querySelector('#upload') || {}).innerText.includes('bolivia')")
    page.locator("#upload-btn").click()
    expect(page.locator("#upload-status")).to_contain_text("Added: bolivia", timeout=60_000)
    assert documents_of(server, name) == ["bolivia"] and "bolivia" not in documents_of(server, "assistant")
    expect(page.locator("#documents")).to_contain_text(f"Documents in \u201c{name}\u201d (1)")
    expect(page.locator("#collection input")).to_have_value(f"{name} · 1 document")

    # Open, then delete it (asked twice).
    choose(page, "document-pick", "Tin mining report (bolivia)")
    page.locator("#document-open").click()
    expect(page.locator("#doc-viewer .doc-body")).to_contain_text("employs 70 people")
    close_viewer(page)
    page.locator("#document-delete").click()
    page.locator("#document-confirm").wait_for(state="visible")
    assert documents_of(server, name) == ["bolivia"]
    page.screenshot(path=str(output_dir / "desktop-document-delete.png"), full_page=True)
    page.locator("#document-confirm-delete").click()
    expect(page.locator("#document-status")).to_contain_text("Deleted bolivia", timeout=30_000)
    expect(page.locator("#documents")).to_contain_text("No documents")
    page.locator("#document-confirm").wait_for(state="hidden")
    assert documents_of(server, name) == []
    assert_no_xss(page)
