"""Start the real server (`run_server`) in a subprocess on a free 127.0.0.1 port.

The API tests and the browser tests share one server per test session (it
loads the encoder and indexes ``seeds/`` once, which is most of its start-up).
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
SEEDS = ROOT / "seeds"
START_TIMEOUT_S = 240

_LAUNCHER = """
import json, sys
from assistant import Assistant
from assistant.web.app import run_server
host, port, paths, fake = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3]), sys.argv[4] == "fake"
if fake:  # hashing embeddings: no model to load, for servers that test plumbing, not retrieval
    from tests.fakes import HashingEmbeddings
    assistant = Assistant(embeddings=HashingEmbeddings())
else:
    assistant = Assistant()
if paths:
    report = assistant.ingest(paths)
    print("ingested:", report.summary(), flush=True)
run_server(host=host, port=port, assistant=assistant)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LiveServer:
    url: str
    process: subprocess.Popen
    workdir: Path
    log_path: Path
    token: str | None = None
    env: dict[str, str] = field(default_factory=dict)

    @property
    def index_dir(self) -> Path:
        return self.workdir / "index"

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def wait_ready(self) -> LiveServer:
        _wait_ready(self)
        return self

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        shutil.rmtree(self.workdir, ignore_errors=True)


def start_server(
    ingest: list[Path] | None = None,
    env: dict[str, str] | None = None,
    token: str | None = None,
    fake_embeddings: bool = False,
    wait: bool = True,
) -> LiveServer:
    """Start a server with a private index folder; returns once /api/health answers (``wait``)."""
    workdir = Path(tempfile.mkdtemp(prefix="assistant-live-"))
    port = free_port()
    full_env = {
        **os.environ,
        "ASSISTANT_INDEX_DIR": str(workdir / "index"),
        "ASSISTANT_LLM": "extractive",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "ANONYMIZED_TELEMETRY": "False",
        "GRADIO_ANALYTICS_ENABLED": "False",
        "PYTHONUNBUFFERED": "1",
    }
    full_env.pop("ASSISTANT_API_TOKEN", None)
    if token:
        full_env["ASSISTANT_API_TOKEN"] = token
    full_env.update(env or {})
    log_path = workdir / "server.log"
    import json

    paths = [str(p) for p in (ingest if ingest is not None else [SEEDS])]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-c", _LAUNCHER, "127.0.0.1", str(port), json.dumps(paths),
             "fake" if fake_embeddings else "real"],
            cwd=ROOT,
            env=full_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = LiveServer(f"http://127.0.0.1:{port}", process, workdir, log_path, token, full_env)
    if wait:
        server.wait_ready()
    return server


def _wait_ready(server: LiveServer) -> None:
    process = server.process
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = server.log()
            server.stop()
            raise RuntimeError(f"server exited with {process.returncode}:\n{output}")
        try:
            if httpx.get(f"{server.url}/api/health", headers=server.headers(), timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    output = server.log()
    server.stop()
    raise RuntimeError(f"server did not answer /api/health within {START_TIMEOUT_S}s:\n{output}")


_shared: dict[str, LiveServer] = {}


def shared_server(wait: bool = True) -> LiveServer:
    """The session's server over the seeds (extractive generator; llamacpp selectable).

    ``wait=False`` only starts it, so another server can boot alongside.
    """
    server = _shared.get("seeds")
    if server is None or server.process.poll() is not None:
        # Short LLM answers keep the one real-model test quick on a busy CPU.
        env = {"ASSISTANT_MAX_FILE_BYTES": "200000", "ASSISTANT_LLM_MAX_TOKENS": "40"}
        server = start_server(env=env, wait=False)
        _shared["seeds"] = server
        atexit.register(server.stop)
    return server.wait_ready() if wait else server
