"""ruff and mypy, configured in pyproject.toml, pass on the package, tests and benchmarks.

Kept out of tests/unit because mypy alone takes 8-16 s; `make test` still runs them."""

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
