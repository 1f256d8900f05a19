"""Code rules no linter checks."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_spacy_tokens_are_never_compared_by_identity():
    # spaCy builds a new Token object on every access (token.head, doc[i]), so "t.head is t"
    # is always false: a loop walking up to the root on it never ended (the eval hung on
    # "On March 23, 1833, who ...?"). Compare positions (.i) instead.
    import re

    pattern = re.compile(r"\.head\s+is\s|\bis\s+(not\s+)?\w+\.head\b")
    found = [f"{path.relative_to(ROOT)}:{n}" for path in (ROOT / "assistant").rglob("*.py")
             for n, line in enumerate(path.read_text().splitlines(), 1) if pattern.search(line)]
    assert not found, found
