"""The chat's download folder, checked from a real process (it starts Python and imports Gradio)."""

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def test_the_export_folder_goes_when_the_process_exits():
    """Each server process makes one private folder for download files; it must not outlive it."""
    code = "from assistant.web.chat.saved import _exports_root; print(_exports_root())"
    folder = Path(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                                 timeout=120).stdout.strip())
    assert folder.name.startswith("assistant-exports-") and not folder.exists()
