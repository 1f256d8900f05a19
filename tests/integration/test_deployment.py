"""The deployment of docs/deployment.md, on one machine: replicas that share all their state.

Started for real on 127.0.0.1, each on a free port: one ``chroma run``
server, one PostgreSQL server (tests/integration/postgres.py), and two
``assistant serve`` replicas (the CLI, as a container would run it) with
separate index folders, pointed at both through ASSISTANT_CHROMA_URL and
ASSISTANT_DATABASE_URL, with one ASSISTANT_API_TOKEN so that every client
holding it is the same owner on either replica (the extractive generator:
this tests where state lives, not the LLM). Ingests are separate
``assistant ingest`` processes with their own index folders, as a job next
to the replicas would be; the one of the new document runs with ``--ray``
(a private local Ray: ASSISTANT_RAY_ADDRESS is unset) when this checkout's
CLI has that option and Ray is installed, as a plain ingest otherwise.

What a user behind a load balancer would see: a conversation started on one
replica continues on the other (the follow-up is read with the first turn as
its history, and the saved conversation lists both turns, with feedback given
on either replica), and a document ingested while both are serving is listed
and cited by both. The whole module is bounded at four minutes.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import EXPLAINER, ROOT, SEEDS, STORY
from tests.integration.postgres import (
    PostgresServer,
    find_postgres_bin,
    free_port,
    missing_reason,
    start_postgres,
)
from tests.integration.test_backends_llm import ServerProcess

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

CHROMA = Path(sys.executable).with_name("chroma")
ASSISTANT = Path(sys.executable).with_name("assistant")
TOKEN = "deployment-test-token-5d2c9e71b04a"
QUESTION = "How is China enforcing its rare earth export restrictions?"
FOLLOW_UP = "What about smuggling?"
NEW_DOC = "zorblax_refinery"
NEW_TEXT = (
    "Zorblax refinery starts separating rare earths in Namibia\n\n"
    "The Zorblax refinery near Walvis Bay began separating rare earth oxides on 3 March 2025. "
    "The plant can process 4,800 tonnes of concentrate a year, its operator Tsumeb Minerals said.\n\n"
    "Its first customer is a magnet maker in Portugal, which signed a five-year offtake contract.\n"
)
NEW_QUESTION = "How much concentrate can the Zorblax refinery process?"
REPLICA_START_S = 180


@dataclass
class Replica:
    name: str
    url: str
    process: subprocess.Popen
    log_path: Path

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=90)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


@dataclass
class Deployment:
    chroma_url: str
    database_url: str
    replicas: list[Replica]
    root: Path

    def env(self, index_dir: Path) -> dict[str, str]:
        """What every assistant process of the deployment gets: the shared servers, its own index folder."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
        env.update(
            ASSISTANT_CHROMA_URL=self.chroma_url, ASSISTANT_DATABASE_URL=self.database_url,
            ASSISTANT_INDEX_DIR=str(index_dir), ASSISTANT_LLM="extractive", ASSISTANT_API_TOKEN=TOKEN,
            HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", ANONYMIZED_TELEMETRY="False",
            GRADIO_ANALYTICS_ENABLED="False", PYTHONUNBUFFERED="1",
        )
        return env

    def ingest(self, folder: Path, name: str, ray: bool = False) -> subprocess.CompletedProcess:
        """``assistant ingest [--ray] --json FOLDER`` in its own process and index folder (a job beside the replicas)."""
        return subprocess.run([str(ASSISTANT), "ingest", *(["--ray"] if ray else []), "--json", str(folder)],
                              cwd=ROOT, env=self.env(self.root / f"ingest-{name}"), capture_output=True, text=True,
                              stdin=subprocess.DEVNULL, timeout=150)


def _cli_has_ray_ingest() -> bool:
    """Whether ``assistant ingest`` has ``--ray`` (distributed ingest on Ray) here, and Ray is installed."""
    if importlib.util.find_spec("ray") is None:
        return False
    shown = subprocess.run([str(ASSISTANT), "ingest", "--help"], capture_output=True, text=True, timeout=60)
    return "--ray" in shown.stdout


def _ok(res: httpx.Response, status: int = 200) -> dict:
    assert res.status_code == status, (res.request.method, str(res.request.url), res.text[:2000])
    return res.json()


def _wait_ready(replicas: list[Replica]) -> None:
    deadline = time.monotonic() + REPLICA_START_S
    waiting = list(replicas)
    while waiting and time.monotonic() < deadline:
        for replica in list(waiting):
            if replica.process.poll() is not None:
                raise RuntimeError(f"replica {replica.name} exited with {replica.process.returncode}:\n{replica.log()}")
            try:
                with replica.client() as client:
                    if client.get("/api/health", timeout=2).status_code == 200:
                        waiting.remove(replica)
            except httpx.HTTPError:
                pass
        time.sleep(0.5)
    if waiting:
        raise RuntimeError(f"replica {waiting[0].name} not ready after {REPLICA_START_S}s:\n{waiting[0].log()}")


@pytest.fixture(scope="module")
def deployment(tmp_path_factory) -> Iterator[Deployment]:
    if find_postgres_bin() is None:
        pytest.fail(missing_reason())
    root = tmp_path_factory.mktemp("deployment")
    chroma_port = free_port()
    chroma = ServerProcess(
        [str(CHROMA), "run", "--path", str(root / "chroma"), "--host", "127.0.0.1", "--port", str(chroma_port)],
        f"http://127.0.0.1:{chroma_port}/api/v2/heartbeat", root / "chroma.log",
    )
    postgres: PostgresServer | None = None
    replicas: list[Replica] = []
    try:
        chroma.start()
        postgres = start_postgres()
        deployment = Deployment(f"http://127.0.0.1:{chroma_port}", postgres.url("postgres", driver="postgresql"),
                                replicas, root)
        # The seeds first, by an ingest job, so the replicas warm up on a real index.
        seeded = deployment.ingest(SEEDS, "seeds")
        assert seeded.returncode == 0, seeded.stdout + seeded.stderr
        for name in ("r1", "r2"):
            port, log_path = free_port(), root / f"{name}.log"
            with open(log_path, "wb") as log:
                process = subprocess.Popen(
                    [str(ASSISTANT), "serve", "--host", "127.0.0.1", "--port", str(port)], cwd=ROOT,
                    env=deployment.env(root / f"index-{name}"), stdout=log, stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                )
            replicas.append(Replica(name, f"http://127.0.0.1:{port}", process, log_path))
        _wait_ready(replicas)
        yield deployment
    finally:
        for replica in replicas:
            replica.stop()
        if postgres is not None:
            postgres.stop()
        chroma.stop()


def test_a_conversation_started_on_one_replica_continues_on_the_other(deployment) -> None:
    r1, r2 = deployment.replicas
    with r1.client() as one, r2.client() as two:
        cid = _ok(one.post("/api/conversations", json={}), 201)["id"]
        first = _ok(one.post("/api/ask", json={"question": QUESTION, "conversation_id": cid}))
        assert not first["abstained"] and first["citations"]

        # The follow-up goes to the other replica: it reads the first turn from the shared database.
        second = _ok(two.post("/api/ask", json={"question": FOLLOW_UP, "conversation_id": cid}))
        assert QUESTION in second["metadata"]["query"], second["metadata"]

        for client in (one, two):  # both replicas list the same conversation with both turns
            assert [c["id"] for c in _ok(client.get("/api/conversations"))] == [cid]
            saved = _ok(client.get(f"/api/conversations/{cid}"))
            assert saved["title"] == QUESTION
            assert [(t["position"], t["question"], t["id"]) for t in saved["turns"]] == [
                (0, QUESTION, first["turn_id"]), (1, FOLLOW_UP, second["turn_id"])]
            assert saved["turns"][0]["answer"]["text"] == first["text"]

        # Feedback given on one replica is seen on the other.
        rated = _ok(two.post("/api/feedback", json={"turn_id": first["turn_id"], "rating": "down",
                                                    "correction": "Export licences.", "facts": ["licences"]}), 201)
        assert _ok(one.get(f"/api/conversations/{cid}"))["turns"][0]["feedback"] == rated

        # A third turn, on the first replica again, follows the second.
        third = _ok(one.post("/api/ask", json={"question": "And who disclosed them?", "conversation_id": cid}))
        assert FOLLOW_UP in third["metadata"]["query"]
        assert [t["position"] for t in _ok(two.get(f"/api/conversations/{cid}"))["turns"]] == [0, 1, 2]


def test_a_document_ingested_by_a_separate_job_is_listed_and_cited_by_both_replicas(deployment, tmp_path) -> None:
    folder = tmp_path / "news"
    folder.mkdir()
    (folder / f"{NEW_DOC}.txt").write_text(NEW_TEXT, encoding="utf-8")
    done = deployment.ingest(folder, "news", ray=_cli_has_ray_ingest())
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout)["added"] == [NEW_DOC], done.stdout

    for replica in deployment.replicas:
        with replica.client() as client:
            deadline = time.monotonic() + 15  # a replica asks the server for a new index generation once a second
            ids: set[str] = set()
            while time.monotonic() < deadline:
                ids = {d["id"] for d in _ok(client.get("/api/documents"))}
                if NEW_DOC in ids:
                    break
                time.sleep(0.5)
            assert ids == {STORY, EXPLAINER, NEW_DOC}, (replica.name, ids)
            answer = _ok(client.post("/api/ask", json={"question": NEW_QUESTION}))
            assert not answer["abstained"], (replica.name, answer["text"])
            cited = [c for c in answer["citations"] if c["source"] == NEW_DOC]
            assert cited, (replica.name, answer["citations"])
            assert "4,800" in answer["text"]
            text = _ok(client.get(f"/api/documents/{NEW_DOC}"))["text"]
            assert all(text[c["start"]:c["end"]] == c["snippet"] for c in cited)
