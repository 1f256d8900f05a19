"""Fast checks of the server's helpers: escaping, chips, file names, auth redirects (no server)."""

from __future__ import annotations

import html
import re

import pytest

from assistant.answer import Answer, Citation, Conflict
from assistant.web.auth import _safe_next
from assistant.web.chat.render import plain_answer, render_answer, render_sources_panel, render_user
from assistant.web.service import plain_history
from assistant.web.uploads import sanitise_filename

EVIL = '<img src=x onerror="alert(1)"><script>alert(2)</script>'


def _answer(**kw) -> Answer:
    c = Citation(id=1, source="doc<1>", title=f"T {EVIL}", section="S&P", snippet=f"span {EVIL}",
                 start=6, end=6 + len(f"span {EVIL}"), score=0.9, date="2025-07-28")
    return Answer(text=f"Claim {EVIL} [1] and [7].", citations=[c], **kw)


def _no_live_markup(fragment: str) -> None:
    assert "<script" not in fragment and "<img" not in fragment
    assert 'onerror="alert' not in fragment


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("../../etc/passwd.txt", "passwd.txt"),
        ("..\\..\\win.ini.md", "win.ini.md"),
        ("/abs/path/notes.MD", "notes.md"),
        ("..", "upload"),
        (".env", "env"),
        ("<script>.txt", "script.txt"),
        ("Ünïcødé file.txt", "Unicde_file.txt"),
    ],
)
def test_sanitise_filename(given: str, expected: str) -> None:
    assert sanitise_filename(given) == expected
    assert re.fullmatch(r"[A-Za-z0-9._-]+", sanitise_filename(given))


def test_answer_html_escapes_everything_and_links_known_markers() -> None:
    out = render_answer(_answer())
    _no_live_markup(out)
    assert html.escape(EVIL) in out
    assert out.count('class="cite-chip"') == 2  # the text's [1] and the sources list; [7] stays text
    assert "[7]" in out
    assert 'href="#cite:1:6:' in out and "doc%3C1%3E" in out
    assert "\n\n" not in out  # one Markdown HTML block


def test_sources_panel_highlights_the_span_in_context() -> None:
    answer = _answer()
    text = "Intro " + answer.citations[0].snippet + " outro."
    out = render_sources_panel(answer, {"doc<1>": text})
    _no_live_markup(out)
    assert re.search(r"<mark>span &lt;img", out)
    assert "Intro" in out and "outro" in out and "S&amp;P · 2025-07-28" in out


def test_abstention_and_conflicts_are_marked() -> None:
    abstained = render_answer(Answer(text="The documents do not cover this.", abstained=True))
    assert "ans-abstained" in abstained and "Not in the documents" in abstained
    conflict = Conflict(topic="export volume <b>", claims=[{"text": "7,742 t", "citation_id": 1}])
    out = render_answer(_answer(conflicts=[conflict]))
    assert "ans-conflicted" in out and "Conflicting sources" in out and "export volume &lt;b&gt;" in out


def test_user_text_and_copy_text_are_escaped() -> None:
    _no_live_markup(render_user(EVIL))
    assert "[1] T " in plain_answer(_answer())


def test_plain_history_keeps_well_formed_turns_only() -> None:
    turns = [{"role": "user", "content": "q"}, {"role": "system", "content": "x"}, "junk", {"role": "assistant"}]
    assert plain_history(turns) == [{"role": "user", "content": "q"}]


@pytest.mark.parametrize(("given", "expected"), [("/x?y=1", "/x?y=1"), ("//evil.com", "/"), ("https://e.com", "/")])
def test_login_redirects_stay_on_site(given: str, expected: str) -> None:
    assert _safe_next(given) == expected
