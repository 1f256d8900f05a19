"""ruff and mypy, configured in pyproject.toml, pass on the package, tests and benchmarks."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(300)
def test_ruff_is_clean():
    proc = subprocess.run([sys.executable, "-m", "ruff", "check", "assistant", "tests", "bench"],
                          cwd=ROOT, capture_output=True, text=True, timeout=280)
    assert proc.returncode == 0, proc.stdout[-4000:]


@pytest.mark.timeout(600)
def test_mypy_is_clean():
    proc = subprocess.run([sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True, timeout=580)
    assert proc.returncode == 0, proc.stdout[-4000:]


def test_spacy_tokens_are_never_compared_by_identity():
    # spaCy builds a new Token object on every access (token.head, doc[i]), so "t.head is t"
    # is always false: a loop walking up to the root on it never ended (the eval hung on
    # "On March 23, 1833, who ...?"). Compare positions (.i) instead.
    import re

    pattern = re.compile(r"\.head\s+is\s|\bis\s+(not\s+)?\w+\.head\b")
    found = [f"{path.relative_to(ROOT)}:{n}" for path in (ROOT / "assistant").rglob("*.py")
             for n, line in enumerate(path.read_text().splitlines(), 1) if pattern.search(line)]
    assert not found, found
