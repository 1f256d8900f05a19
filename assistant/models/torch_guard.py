"""Keep torch out of imports that only look for it, and apart from the code that needs it.

spaCy imports thinc, and thinc imports torch whenever it is installed
(``thinc.compat``), only to offer torch-backed layers that ``en_core_web_sm``
never uses: 2.6 s of the 4.7 s a cold question spent loading spaCy here
(the parse is the same either way: thinc runs the model on numpy). The
answering path needs torch nowhere else; the MiniLM torch backend and the
one-time ONNX export do, so they import it under the same lock, and never
while an import is being kept from it.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_IMPORTS = threading.RLock()


@contextmanager
def without_torch() -> Iterator[None]:
    """Run the imports inside as if torch were not installed, unless it is already imported."""
    with _IMPORTS:
        if "torch" in sys.modules:
            yield
            return
        sys.modules["torch"] = None  # type: ignore[assignment]  # makes `import torch` raise ImportError
        try:
            yield
        finally:
            if sys.modules.get("torch") is None:
                del sys.modules["torch"]


@contextmanager
def torch_imports() -> Iterator[None]:
    """Hold off any ``without_torch`` import while code that needs torch imports it."""
    with _IMPORTS:
        yield
