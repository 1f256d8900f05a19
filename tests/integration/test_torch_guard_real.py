"""spaCy loads without importing torch, and code that needs torch can still import it afterwards."""

from __future__ import annotations

import subprocess
import sys

# Run in a fresh interpreter: this test process may have imported torch already.
SCRIPT = """
import sys
from assistant.models.torch_guard import torch_imports, without_torch
from assistant.text.language import parse

with without_torch():
    try:
        import torch
    except ImportError:
        blocked = True
    else:
        blocked = False
assert blocked, "torch was importable inside without_torch"
assert "torch" not in sys.modules, "without_torch left its marker behind"

entities = [(e.text, e.label_) for e in parse("Apple bought 3 firms in Berlin on Monday.").ents]
assert ("Berlin", "GPE") in entities, entities
assert "torch" not in sys.modules, "loading spaCy imported torch"

with torch_imports():
    import torch  # noqa: F401
print("ok")
"""


def test_spacy_loads_without_torch_and_torch_still_imports_after():
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().endswith("ok")
