"""Browser fixtures: Debian's Chromium driven by Playwright against the live server.

Never wait for "networkidle": Gradio keeps an event stream open. Wait for elements.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.e2e.live_server import ROOT, LiveServer, shared_server

CHROMIUM = os.environ.get("ASSISTANT_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 390, "height": 844}

# Records every change of the streaming bubble's text, with a timestamp, so a
# test can tell sentence-by-sentence streaming from one final paint, and that
# what was shown was only ever added to (never a draft replaced).
STREAM_RECORDER = """
window.__streamLog = [];
new MutationObserver(() => {
  const bubbles = document.querySelectorAll('#chat .ans-streaming');
  if (!bubbles.length) return;
  const text = bubbles[bubbles.length - 1].textContent;
  const log = window.__streamLog;
  if (!log.length || log[log.length - 1].len !== text.length) log.push({t: performance.now(), len: text.length, text: text});
}).observe(document, {subtree: true, childList: true, characterData: true});
"""


@pytest.fixture(scope="session")
def output_dir() -> Path:
    """Screenshots and timings; ``ASSISTANT_E2E_OUTPUT`` or ``test-output/e2e`` (git-ignored)."""
    folder = Path(os.environ.get("ASSISTANT_E2E_OUTPUT", ROOT / "test-output" / "e2e"))
    folder.mkdir(parents=True, exist_ok=True)
    ignore = folder.parent / ".gitignore" if folder.parent.name == "test-output" else folder / ".gitignore"
    ignore.write_text("*\n")
    return folder


# Module scope, not session: Playwright's sync API keeps an asyncio loop running in
# the main thread while it is open, and later tests that call asyncio.run()
# (LangChain's async suites, the MCP client) fail with "cannot be called from a
# running event loop" if the browser outlives this module.
@pytest.fixture(scope="module")
def browser():
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}; run `make system-deps`")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def server() -> LiveServer:
    return shared_server()


def open_chat(browser, server: LiveServer, viewport: dict | None = None):
    """A fresh page on the chat, with the streaming recorder and an XSS tripwire."""
    context = browser.new_context(viewport=viewport or DESKTOP)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url)
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.add_init_script(STREAM_RECORDER)
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.dialogs = dialogs  # type: ignore[attr-defined]
    page.goto(server.url + "/")
    page.locator("#suggestion-0").wait_for(state="visible")
    return page


@pytest.fixture
def chat(browser, server):
    page = open_chat(browser, server)
    yield page
    page.context.close()
