"""Answering while another process ingests: a running server and a CLI ``assistant ingest`` on one index."""

from __future__ import annotations

import subprocess
import sys
import time

import httpx
import pytest

from tests.conftest import ROOT, SEEDS
from tests.reliability.conftest import Server, record, subprocess_env
from tests.reliability.corpus import make_corpus, marker

pytestmark = pytest.mark.integration

QUESTIONS = ["How is China enforcing its rare earth export restrictions?", "Why are rare earths critical?"]


def test_server_answers_consistently_while_a_cli_ingest_writes(tmp_path):
    index_dir = tmp_path / "index"
    server = Server(index_dir, tmp_path / "server.log")
    try:
        server.wait_ready()
        http = httpx.Client(base_url=server.url, timeout=120)
        assert http.post("/api/ingest", json={"paths": [str(SEEDS)]}).status_code == 200
        corpus = tmp_path / "corpus"
        make_corpus(corpus, 40)
        texts = {p.stem: p.read_text(encoding="utf-8") for p in [*SEEDS.glob("*.txt"), *corpus.glob("*.txt")]}
        ingest = subprocess.Popen(
            [sys.executable, "-m", "assistant.cli", "ingest", "-q", str(SEEDS), str(corpus)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=subprocess_env(index_dir), cwd=ROOT,
        )
        asked, problems, citations = 0, [], 0
        deadline = time.monotonic() + 240
        while ingest.poll() is None and time.monotonic() < deadline:
            for q in [*QUESTIONS, f"Which dispatch has reference code {marker(asked % 40)}?"]:
                r = http.post("/api/ask", json={"question": q})
                asked += 1
                if r.status_code != 200:
                    problems.append(f"{q}: HTTP {r.status_code} {r.text[:120]}")
                    continue
                for c in r.json()["citations"]:
                    citations += 1
                    if texts[c["source"]][c["start"] : c["end"]] != c["snippet"]:
                        problems.append(f"citation {c['source']}[{c['start']}:{c['end']}] not exact")
        _, err = ingest.communicate(timeout=300)
        assert ingest.returncode == 0, err[-2000:]
        time.sleep(1.5)
        after = http.post("/api/ask", json={"question": f"Which dispatch has reference code {marker(5)}?"}).json()
        docs = {d["id"] for d in http.get("/api/documents").json()}
        sees_new = "doc0005" in {c["source"] for c in after["citations"]}
        record("concurrency", "server answering while a CLI ingest (another process) writes",
               questions_answered=asked, citations_checked=citations, errors=problems[:5],
               server_lists_new_documents=len(docs) == 42, new_document_cited_after_ingest=sees_new)
        assert problems == [] and asked > 0
        assert len(docs) == 42
    finally:
        server.stop()
