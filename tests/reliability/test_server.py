"""The real server under load, bad input and a dead LLM backend, plus its security defaults.

Two ``assistant serve`` subprocesses on 127.0.0.1 with temp indexes, started
together: A answers extractively (load, bad input, uploads, secrets in logs),
B points ASSISTANT_LLM=openai at a closed port (backend fault).
"""

from __future__ import annotations

import os
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.conftest import SEEDS
from tests.reliability.conftest import Server, cli, free_port, record, subprocess_env

pytestmark = pytest.mark.integration

API_TOKEN = "rel-api-token-5f1d9c3e7a"  # must never appear in a log
OPENAI_KEY = "sk-rel-secret-8b2e4a61c0"
N_CLIENTS = int(os.environ.get("RELIABILITY_LOAD_CLIENTS", "20"))
N_QUESTIONS = int(os.environ.get("RELIABILITY_LOAD_QUESTIONS", "10"))
OVERLOAD = int(os.environ.get("RELIABILITY_OVERLOAD_REQUESTS", "60"))
QUESTIONS = [
    "How is China enforcing its rare earth export restrictions?",
    "What steps is the US taking to reduce dependence on Chinese rare earths?",
    "Why are rare earths so critical to technology and defense industries?",
    "What did China's rare earth exports do in June?",
    "Which countries are building rare earth processing?",
    "What are rare earth magnets used for?",
    "What did the papers say about the export controls?",
    "How long has China dominated rare earth refining?",
    "What happened to prices after the restrictions?",
    "Who is trying to break China's monopoly?",
]
AUTH = {"Authorization": f"Bearer {API_TOKEN}"}


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    base = tmp_path_factory.mktemp("servers")
    a = Server(base / "index-a", base / "server-a.log", ASSISTANT_API_TOKEN=API_TOKEN,
               ASSISTANT_OPENAI_API_KEY=OPENAI_KEY, ASSISTANT_MAX_FILE_BYTES="200000")
    closed = free_port()  # nothing listens here
    b = Server(base / "index-b", base / "server-b.log", ASSISTANT_LLM="openai",
               ASSISTANT_OPENAI_BASE_URL=f"http://127.0.0.1:{closed}/v1", ASSISTANT_OPENAI_MODEL="gone",
               ASSISTANT_OPENAI_API_KEY=OPENAI_KEY, ASSISTANT_LLM_TIMEOUT_S="5", ASSISTANT_LLM_RETRIES="1")
    try:
        t0 = time.monotonic()
        a.wait_ready()
        b.wait_ready()
        startup = round(time.monotonic() - t0, 1)
        for server, headers in ((a, AUTH), (b, {})):
            r = httpx.post(server.url + "/api/ingest", json={"paths": [str(SEEDS)]}, headers=headers, timeout=300)
            assert r.status_code == 200, r.text
        yield {"a": a, "b": b, "startup_s": startup}
    finally:
        a.stop()
        b.stop()


def _chunks(server: Server) -> dict[str, int]:
    return {d["id"]: d["chunks"] for d in httpx.get(server.url + "/api/documents", headers=AUTH, timeout=30).json()}


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def test_load_concurrent_clients_get_their_own_answers(servers):
    a = servers["a"]
    latencies: list[float] = []
    problems: list[str] = []
    lock = threading.Lock()

    def client(c: int) -> None:
        with httpx.Client(base_url=a.url, headers=AUTH, timeout=120) as http:
            for j in range(N_QUESTIONS):
                tag = f"client {c} question {j}"
                question = f"For {tag}: {QUESTIONS[(c + j) % len(QUESTIONS)]}"
                t0 = time.perf_counter()
                try:
                    r = http.post("/api/ask", json={"question": question})
                except httpx.HTTPError as exc:
                    with lock:
                        problems.append(f"{tag}: {type(exc).__name__}")
                    continue
                elapsed = time.perf_counter() - t0
                with lock:
                    latencies.append(elapsed)
                    if r.status_code != 200:
                        problems.append(f"{tag}: HTTP {r.status_code} {r.text[:100]}")
                        continue
                    body = r.json()
                    # No cross-talk: the answer carries the query it was computed for.
                    if tag not in body["metadata"].get("query", ""):
                        problems.append(f"{tag}: answer for {body['metadata'].get('query')!r}")

    t0 = time.perf_counter()
    with ThreadPoolExecutor(N_CLIENTS) as pool:
        list(pool.map(client, range(N_CLIENTS)))
    wall = time.perf_counter() - t0
    total = N_CLIENTS * N_QUESTIONS
    record("load", "HTTP /api/ask, extractive", clients=N_CLIENTS, questions_per_client=N_QUESTIONS,
           requests=total, errors=len(problems), problems=problems[:5],
           p50_s=round(statistics.median(latencies), 3) if latencies else None,
           p95_s=round(_percentile(latencies, 0.95), 3) if latencies else None,
           max_s=round(max(latencies), 3) if latencies else None,
           throughput_per_s=round(total / wall, 2), wall_s=round(wall, 1), server_startup_s=servers["startup_s"])
    assert problems == []


def test_beyond_capacity_requests_queue_or_are_refused_quickly_never_time_out(servers):
    a = servers["a"]
    statuses: list[int | str] = []
    latencies: list[float] = []

    def one(i: int) -> None:
        t0 = time.perf_counter()
        try:
            r = httpx.post(a.url + "/api/ask", json={"question": QUESTIONS[i % len(QUESTIONS)]}, headers=AUTH, timeout=150)
            statuses.append(r.status_code)
        except httpx.HTTPError as exc:
            statuses.append(type(exc).__name__)
        latencies.append(time.perf_counter() - t0)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(OVERLOAD)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=200)
    counts = {str(s): statuses.count(s) for s in set(statuses)}
    record("load", f"burst of {OVERLOAD} simultaneous requests", statuses=counts,
           max_latency_s=round(max(latencies), 2), p50_s=round(statistics.median(latencies), 2),
           wall_s=round(time.perf_counter() - t0, 1),
           behaviour="queued behind the answering lock (server busy timeout 90 s, then 503)")
    assert all(s in (200, 429, 503) for s in statuses), counts
    assert len(statuses) == OVERLOAD


def test_bad_input_over_http_gets_clear_errors_and_loses_nothing(servers, tmp_path):
    a = servers["a"]
    before = _chunks(a)
    tried = []
    http = httpx.Client(base_url=a.url, headers=AUTH, timeout=60)

    def expect(label: str, response: httpx.Response, statuses: tuple[int, ...]) -> dict:
        assert response.status_code in statuses, (label, response.status_code, response.text[:300])
        assert response.headers["content-type"].startswith("application/json"), label
        body = response.json()
        detail = ""
        if isinstance(body, dict):
            if body.get("error"):
                detail = body["error"]
            elif "abstained" in body:
                detail = "abstained" if body["abstained"] else f"answered with {len(body['citations'])} exact citations"
            elif body.get("errors"):
                detail = "refused: " + body["errors"][0]["reason"]
            elif "text" in body:
                detail = "not found"
        tried.append({"surface": "http", "input": label, "outcome": f"{response.status_code} {detail[:110]}"})
        return body

    for label, payload in [("empty question", {"question": ""}), ("whitespace question", {"question": " \n\t "}),
                           ("100,000-character question", {"question": "why " * 25_000}),
                           ("only control characters", {"question": "\x00\x01\x1b"}),
                           ("question is a number", {"question": 42}), ("no question", {}),
                           ("k=abc", {"question": "What happened?", "k": "abc"}),
                           ("k=0", {"question": "What happened?", "k": 0}),
                           ("unknown generator", {"question": "What happened?", "generator": "gpt-99"})]:
        t0 = time.perf_counter()
        body = expect(label, http.post("/api/ask", json=payload), (400, 422))
        assert body["error"] and time.perf_counter() - t0 < 10
    expect("malformed JSON body", http.post("/api/ask", content=b"{not json", headers={"content-type": "application/json"}), (400, 422))
    body = expect("NUL bytes inside a question", http.post("/api/ask", json={"question": "What did\x00 China restrict\x07 in April?"}), (200,))
    assert isinstance(body["text"], str)
    xss = "<script>alert(1)</script><img src=x onerror=alert(2)> What are rare earths used for?"
    body = expect("HTML/JS question", http.post("/api/ask", json={"question": xss}), (200,))
    assert "<script>" not in body["text"]  # answers are source text, not the question echoed back
    expect("unknown document id", http.get("/api/documents/..%2F..%2Fetc%2Fpasswd"), (404,))
    expect("ingest a missing path", http.post("/api/ingest", json={"paths": ["/no/such/folder"]}), (403,))
    expect("ingest a traversal path to a non-document", http.post("/api/ingest", json={"paths": [str(SEEDS) + "/../../../../etc/hostname"]}), (403,))
    expect("no token", httpx.post(a.url + "/api/ask", json={"question": "What happened?"}, timeout=30), (401,))
    expect("wrong token", httpx.post(a.url + "/api/ask", json={"question": "What happened?"}, headers={"Authorization": "Bearer nope"}, timeout=30), (401,))

    files = [
        ("files", ("empty.txt", b"", "text/plain")),
        ("files", ("binary.txt", bytes(range(256)) * 4, "text/plain")),
        ("files", ("latin1.txt", "Caf\xe9 na\xefve".encode("latin-1"), "text/plain")),
        ("files", ("huge.txt", b"Rare earths. " * 20_000, "text/plain")),  # 260 kB > 200 kB cap
        ("files", ("tool.exe", b"MZ\x90\x00", "application/octet-stream")),
        ("files", ("../../../../tmp/escape-attempt.txt", b"Escape\n\nThe gadolinium escape text.\n", "text/plain")),
        ("files", ("xss.md", b"# <script>alert('x')</script> Notes\n\nThe <b>lutetium</b> plant opened in <i>2024</i>.\n", "text/markdown")),
    ]
    body = expect("upload: empty, binary, latin-1, oversize, .exe, traversal name, HTML/JS", http.post("/api/upload", files=files), (200,))
    refused = {r["file"]: r["reason"] for r in body["refused"]}
    for name in ("empty.txt", "binary.txt", "latin1.txt", "huge.txt", "tool.exe"):
        assert name in refused, (name, body)
        tried.append({"surface": "http upload", "input": name, "outcome": f"refused: {refused[name][:90]}"})
    assert not Path("/tmp/escape-attempt.txt").exists()
    assert set(body["added"]) == {"escape-attempt", "xss"}, body
    tried.append({"surface": "http upload", "input": "../../../../tmp/escape-attempt.txt",
                  "outcome": "saved as escape-attempt.txt inside the index's uploads folder"})
    doc = http.get("/api/documents/xss").json()
    # Markdown is indexed as its reader reads it: tags and script bodies dropped, the text kept.
    assert "The lutetium plant opened in 2024." in doc["text"] and "<" not in doc["text"] and "alert" not in doc["text"]
    tried.append({"surface": "http upload", "input": "HTML/JS in a Markdown document",
                  "outcome": "tags and script bodies dropped at ingest; its text served as JSON"})

    after = _chunks(a)
    lost = {d: n for d, n in before.items() if after.get(d) != n}
    record("bad_input", "http api", tried=tried, lost_chunks=sum(lost.values()),
           documents_before=len(before), documents_after=len(after))
    assert not lost


def test_llm_unreachable_is_a_quick_clear_503(servers):
    b = servers["b"]
    timings = []
    for question in QUESTIONS[:3]:
        t0 = time.perf_counter()
        r = httpx.post(b.url + "/api/ask", json={"question": question}, timeout=120)
        timings.append(round(time.perf_counter() - t0, 2))
        assert r.status_code == 503, r.text[:300]
        assert "openai" in r.json()["error"].lower() or "model" in r.json()["error"].lower()
    health = httpx.get(b.url + "/api/health", timeout=30)
    record("faults", "LLM server unreachable (openai at a closed port)", status=503,
           seconds=timings, message=r.json()["error"][:200], server_still_healthy=health.status_code == 200)
    assert max(timings) < 30 and health.status_code == 200


def test_logs_hold_no_secrets_and_no_full_documents(servers):
    logs = {name: servers[name].log() for name in ("a", "b")}
    seed_lines = [line for p in SEEDS.glob("*.txt") for line in p.read_text(encoding="utf-8").splitlines() if len(line) > 120]
    leaks = []
    for name, text in logs.items():
        for secret in (API_TOKEN, OPENAI_KEY):
            if secret in text:
                leaks.append(f"server {name} log contains a secret")
        leaked_lines = sum(1 for line in seed_lines if line in text)
        if leaked_lines > 0:
            leaks.append(f"server {name} log contains {leaked_lines} full document lines")
    record("security", "secrets and documents in logs", log_bytes={k: len(v) for k, v in logs.items()},
           secrets_checked=["ASSISTANT_API_TOKEN", "ASSISTANT_OPENAI_API_KEY"], leaks=leaks)
    assert leaks == []


def test_non_loopback_bind_without_a_token_is_refused(tmp_path):
    env = subprocess_env(tmp_path / "index")
    out = cli(["serve", "--host", "0.0.0.0", "--port", str(free_port())], env, timeout=120)
    record("security", "serve --host 0.0.0.0 without ASSISTANT_API_TOKEN", exit=out.returncode,
           message=out.stderr.strip()[-200:])
    assert out.returncode == 2 and "ASSISTANT_API_TOKEN" in out.stderr and "Refusing" in out.stderr
    help_text = cli(["serve", "--help"], env, timeout=120).stdout
    assert "127.0.0.1" in help_text  # the default bind
    record("security", "default bind", value="127.0.0.1 (assistant serve --help)")
