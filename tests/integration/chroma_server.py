"""A real ``chroma run`` server on a free 127.0.0.1 port, for the tests that share a Chroma server."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.integration.test_backends_llm import ServerProcess, free_port

CHROMA = Path(sys.executable).with_name("chroma")


def chroma_server_process(root: Path) -> ServerProcess:
    """A ``chroma run`` with its data in ``root/data`` (not started); its URL is ``.url``."""
    port = free_port()
    server = ServerProcess(
        [str(CHROMA), "run", "--path", str(root / "data"), "--host", "127.0.0.1", "--port", str(port)],
        f"http://127.0.0.1:{port}/api/v2/heartbeat",
        root / "server.log",
    )
    server.url = f"http://127.0.0.1:{port}"  # type: ignore[attr-defined]
    return server


@contextmanager
def running_chroma(root: Path) -> Iterator[ServerProcess]:
    """A started server, stopped on exit (a module fixture yields from this)."""
    server = chroma_server_process(root)
    server.start()
    try:
        yield server
    finally:
        server.stop()
