"""Ingest throughput on Ray: single process vs a local Ray with 1 and 2 embedding workers.

    python bench/ray_scaling.py              # the index encoder (e5), 1,000+ chunks
    python bench/ray_scaling.py --tiny       # fake encoder, 150 chunks, seconds

One corpus (``bench/corpus.py``, 1,000+ chunks), three fresh ingests of it:

- ``single``: ``IngestPipeline`` in this process (the encoder uses every core);
- ``ray-1``, ``ray-2``: ``RayIngestPipeline`` on a private local Ray with 1
  and 2 embedding actors (one encoder thread each). The Ray start is timed
  apart; the ingest's seconds include each actor loading its encoder.

Scaling efficiency = throughput(n) / (n x throughput(1)). Each Ray index is
checked against the single-process one (same chunks, vectors, manifest).
This VM is shared, so wall-clock rates move with other jobs' load; the CPU
seconds each run used (this process, and every Ray process it started,
sampled from /proc) do not, and give the per-core rate the estimate uses:
chunks per CPU-second of the encoder actors.

Then a paper estimate for 1M and 10M chunks on 8 and 64 cores, from the
measured per-core encoding rate (``ray-1``) and the driver's own rate (a
single writer: Chroma upserts, manifest records, document texts, the BM25
build at publish), measured by ingesting the same corpus again with an
encoder that looks the vectors up; and a Chroma server's memory at those
sizes from this index's bytes per chunk (HNSW: the 384 float32s plus graph
links, in RAM; SQLite: text, metadata, full-text index, on disk).

Writes ``ray_scaling.json`` and ``ray_scaling.md`` into ``bench/reports`` (or ``--out``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

from common import ROOT, dir_bytes, write_report  # noqa: E402
from corpus import write_corpus  # noqa: E402

SIZES = (1_000_000, 10_000_000)
CORES = (8, 64)
HNSW_M = 16  # Chroma's default hnsw:M; level 0 keeps 2M links per element


class CpuSampler(threading.Thread):
    """CPU seconds of this process's descendants (Ray's processes), by kind, sampled from /proc.

    A process's last sample counts, so one that exits loses under ``interval`` of its CPU.
    """

    def __init__(self, interval: float = 0.25) -> None:
        super().__init__(daemon=True)
        self.interval = interval
        self.seen: dict[int, tuple[str, float]] = {}
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.sample()
            self._stop_event.wait(self.interval)

    def sample(self) -> None:
        parents: dict[int, int] = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                except (OSError, ValueError, IndexError):
                    continue
        mine, frontier = set(), [os.getpid()]
        while frontier:
            kids = [pid for pid, parent in parents.items() if parent == frontier[-1]]
            frontier.pop()
            mine.update(kids)
            frontier += kids
        for pid in mine:
            try:
                fields = (Path(f"/proc/{pid}/stat")).read_text().rsplit(")", 1)[1].split()
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
            except (OSError, ValueError):
                continue
            cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
            kind = "encoder actors" if "EmbedChunks" in cmdline else "ray tasks and helpers" if "ray::" in cmdline else "ray system"
            self.seen[pid] = (kind, max(cpu, self.seen.get(pid, ("", 0.0))[1]))

    def stop(self) -> dict[str, float]:
        self._stop_event.set()
        self.join()
        self.sample()
        totals: dict[str, float] = {}
        for kind, cpu in self.seen.values():
            totals[kind] = totals.get(kind, 0.0) + cpu
        return {k: round(v, 1) for k, v in sorted(totals.items())}


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _cpu_columns(run: dict, driver_cpu: float, ray_cpu: dict[str, float]) -> None:
    run["cpu_s"] = {"driver": round(driver_cpu, 1), **ray_cpu}
    total = driver_cpu + sum(ray_cpu.values())
    run["cpu_s_total"] = round(total, 1)
    run["chunks_per_cpu_s"] = round(run["chunks"] / total, 2)
    if "encoder actors" in ray_cpu:
        run["chunks_per_encoder_cpu_s"] = round(run["chunks"] / ray_cpu["encoder actors"], 2)


class LookupEmbeddings:
    """An encoder that returns vectors already computed (by text): an ingest's cost without encoding."""

    def __init__(self, vectors: dict[str, list[float]], model_name: str) -> None:
        self.vectors = vectors
        self.model_name = model_name

    def encode(self, texts: list[str]) -> list[list[float]]:
        return [self.vectors[t] for t in texts]


class TinyEncoderFactory:
    """The fake encoder for --tiny runs, built in each actor."""

    def __call__(self):
        from tests.fakes import HashingEmbeddings

        return HashingEmbeddings(dim=384)


def _assistant(index_dir: Path, index_embeddings):
    from assistant import Assistant

    return Assistant(index_dir=index_dir, llm="extractive", index_embeddings=index_embeddings)


def _encoder(tiny: bool):
    if tiny:
        return TinyEncoderFactory()()
    from assistant.models.embeddings import get_embeddings
    from assistant.settings import Settings

    settings = Settings()
    return get_embeddings(settings.model_copy(update={"embedding_backend": settings.index_backend}))


def _factory(tiny: bool):
    from assistant.ingest.ray_stages import IndexEncoderFactory
    from assistant.settings import Settings

    return TinyEncoderFactory() if tiny else IndexEncoderFactory(Settings())


def ingest_single(corpus: Path, index_dir: Path, tiny: bool) -> dict:
    from assistant.ingest.pipeline import IngestPipeline

    assistant = _assistant(index_dir, _encoder(tiny))
    load = os.getloadavg()[0]
    cpu = _own_cpu()
    t0 = time.perf_counter()
    report = IngestPipeline(assistant.index).run([corpus])
    seconds = time.perf_counter() - t0
    run = {"mode": "single", "workers": None, "seconds": round(seconds, 2), "ray_start_s": None,
           "chunks": report.chunks_added, "chunks_per_s": round(report.chunks_added / seconds, 2),
           "load_avg_at_start": round(load, 2)}
    _cpu_columns(run, _own_cpu() - cpu, {})
    return run


def ingest_ray(corpus: Path, index_dir: Path, workers: int, tiny: bool) -> dict:
    from assistant.ingest.ray_ingest import RayIngestPipeline
    from assistant.ingest.ray_runtime import local_cpus, ray_cluster

    t0 = time.perf_counter()
    with ray_cluster(None, workers):
        started = time.perf_counter() - t0
        assistant = _assistant(index_dir, _encoder(tiny))
        load = os.getloadavg()[0]
        sampler = CpuSampler()
        sampler.sample()  # Ray's own start-up, before the ingest, is not counted
        before = dict(sampler.seen)
        sampler.start()
        cpu = _own_cpu()
        t1 = time.perf_counter()
        report = RayIngestPipeline(assistant.index, workers=workers, make_encoder=_factory(tiny)).run([corpus])
        seconds = time.perf_counter() - t1
        driver_cpu = _own_cpu() - cpu
        ray_cpu = sampler.stop()
        for kind, cpu_before in before.values():
            ray_cpu[kind] = round(ray_cpu.get(kind, 0.0) - cpu_before, 1)
    run = {"mode": f"ray-{workers}", "workers": workers, "seconds": round(seconds, 2),
           "ray_start_s": round(started, 2), "ray_cpus": local_cpus(workers), "chunks": report.chunks_added,
           "chunks_per_s": round(report.chunks_added / seconds, 2), "load_avg_at_start": round(load, 2)}
    _cpu_columns(run, driver_cpu, ray_cpu)
    return run


def same_index(one_dir: Path, other_dir: Path, tiny: bool) -> dict:
    from tests.index_state import assert_same_index, index_state

    one, other = _assistant(one_dir, _encoder(tiny)), _assistant(other_dir, _encoder(tiny))
    try:
        assert_same_index(one, other)
        identical = True
    except AssertionError:
        identical = False
    chunks, _ = index_state(one)
    other_chunks, _ = index_state(other)
    diff = max((float(abs(chunks[c][2] - other_chunks[c][2]).max()) for c in chunks if c in other_chunks), default=0.0)
    return {"identical": identical, "max_vector_diff": diff}


def driver_rate(corpus: Path, single_dir: Path, work: Path, tiny: bool) -> dict:
    """The driver's own chunks/s: parse time apart, then an ingest whose encoder only looks vectors up."""
    from assistant.ingest.chunking import chunk_document
    from assistant.ingest.documents import load_documents
    from assistant.ingest.pipeline import IngestPipeline
    from assistant.settings import Settings
    from tests.index_state import index_state

    settings = Settings()
    t0 = time.perf_counter()
    docs, _ = load_documents([corpus], settings.max_file_bytes)
    chunks = sum(len(chunk_document(d, settings.chunk_tokens, settings.chunk_overlap)) for d in docs)
    parse_s = time.perf_counter() - t0
    built = _assistant(single_dir, _encoder(tiny))
    stored, _ = index_state(built)
    lookup = LookupEmbeddings({text: [float(x) for x in vec] for text, _, vec in stored.values()},
                              built.index.embeddings.model_name)
    assistant = _assistant(work / "lookup", lookup)
    t0 = time.perf_counter()
    IngestPipeline(assistant.index).run([corpus])
    total_s = time.perf_counter() - t0
    write_s = max(total_s - parse_s, 1e-6)
    return {"chunks": chunks, "parse_chunk_s": round(parse_s, 2), "parse_chunks_per_s": round(chunks / parse_s, 1),
            "ingest_without_encoding_s": round(total_s, 2), "write_s": round(write_s, 2),
            "write_chunks_per_s": round(chunks / write_s, 1)}


def bytes_per_chunk(index_dir: Path, chunks: int) -> dict:
    """What the index built here holds per chunk, and where it lives in a Chroma server."""
    from tests.index_state import index_state

    assistant = _assistant(index_dir, None)
    stored, _ = index_state(assistant)
    dim = len(next(iter(stored.values()))[2])
    text = sum(len(t.encode("utf-8")) for t, _, _ in stored.values()) / len(stored)
    meta = sum(len(json.dumps(m).encode("utf-8")) for _, m, _ in stored.values()) / len(stored)
    # hnswlib's level 0: the vector, 2M neighbour ids and their count, the label; upper levels
    # hold ~1/(M-1) of the elements with M links each.
    level0 = dim * 4 + 2 * HNSW_M * 4 + 4 + 8
    upper = (HNSW_M * 4 + 4) / (HNSW_M - 1)
    measured_level0 = None
    for segment in (index_dir / "chroma").iterdir():
        data, length = segment / "data_level0.bin", segment / "length.bin"
        if data.exists() and length.exists() and length.stat().st_size:
            measured_level0 = data.stat().st_size / (length.stat().st_size / 4)
    sqlite_file = index_dir / "chroma" / "chroma.sqlite3"
    sqlite = sqlite_file.stat().st_size / chunks
    return {"dim": dim, "vector_bytes": dim * 4, "text_bytes": round(text, 1), "metadata_json_bytes": round(meta, 1),
            "hnsw_bytes": round(level0 + upper, 1), "hnsw_level0_measured_bytes": measured_level0,
            "sqlite_bytes": round(sqlite, 1), "sqlite_parts_bytes": _sqlite_parts(sqlite_file, chunks),
            "lexical_bytes": round(dir_bytes(index_dir / "lexical") / chunks, 1),
            "manifest_bytes": round((index_dir / "manifest.json").stat().st_size / chunks, 1)}


def _sqlite_parts(path: Path, chunks: int) -> dict[str, float]:
    """Chroma's SQLite per chunk by part (SQLite's dbstat): the vector log, full-text index, metadata."""
    import sqlite3

    parts = {"embeddings_queue": "vector write-ahead log", "fulltext": "full-text index",
             "metadata": "metadata", "other": "other"}
    sizes = dict.fromkeys(parts.values(), 0.0)
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            for name, size in db.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name"):
                key = next((k for k in parts if k in name), "other")
                sizes[parts[key]] += size / chunks
    except sqlite3.Error:
        return {}
    sizes["free pages"] = path.stat().st_size / chunks - sum(sizes.values())  # left by the pruned log
    return {k: round(v, 1) for k, v in sizes.items()}


def estimates(per_core: float, efficiency: float, writer: float, sizes: dict) -> list[dict]:
    rows = []
    for n in SIZES:
        for cores in CORES:
            encode_s = n / (per_core * cores * min(efficiency, 1.0))
            write_s = n / writer
            rows.append({
                "chunks": n, "cores": cores, "encode_h": round(encode_s / 3600, 2), "driver_h": round(write_s / 3600, 2),
                "wall_h": round(max(encode_s, write_s) / 3600, 2),
                "bound": "encoding" if encode_s >= write_s else "driver (single writer)",
                "chroma_ram_gb": round(n * sizes["hnsw_bytes"] / 1e9, 1),
                "chroma_disk_gb": round(n * sizes["sqlite_bytes"] / 1e9, 1),
                "chroma_disk_without_log_gb": round(
                    n * (sizes["sqlite_bytes"] - sizes["sqlite_parts_bytes"].get("vector write-ahead log", 0.0)) / 1e9, 1),
            })
    return rows


def run(min_chunks: int, tiny: bool, out: Path) -> dict:
    work = Path(tempfile.mkdtemp(prefix="bench-ray-"))
    corpus_info = write_corpus(work / "corpus", min_chunks)
    try:
        runs = [ingest_single(work / "corpus", work / "single", tiny)]
        for workers in (1, 2):
            runs.append(ingest_ray(work / "corpus", work / f"ray{workers}", workers, tiny))
            runs[-1]["same_as_single"] = same_index(work / "single", work / f"ray{workers}", tiny)
        one = runs[1]["chunks_per_s"]
        for r in runs[1:]:
            r["scaling_efficiency"] = round(r["chunks_per_s"] / (r["workers"] * one), 3)
            # The same on CPU time: how much of a core's work a worker keeps when there are n.
            r["cpu_scaling_efficiency"] = round(r["chunks_per_encoder_cpu_s"] / runs[1]["chunks_per_encoder_cpu_s"], 3)
        per_core = runs[1]["chunks_per_encoder_cpu_s"]
        writer = driver_rate(work / "corpus", work / "single", work, tiny)
        sizes = bytes_per_chunk(work / "single", runs[0]["chunks"])
        report = {
            "meta": {"date": datetime.now(UTC).isoformat(timespec="seconds"), "python": platform.python_version(),
                     "cpus": os.cpu_count(), "encoder": "fake (--tiny)" if tiny else "index encoder (settings)",
                     "corpus": corpus_info},
            "runs": runs,
            "driver": writer,
            "bytes_per_chunk": sizes,
            "per_core_chunks_per_s": per_core,
            "estimates": estimates(per_core, runs[2]["cpu_scaling_efficiency"], writer["write_chunks_per_s"], sizes),
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)
    write_report(out, "ray_scaling", report, _markdown(report))
    return report


def _markdown(r: dict) -> str:
    m, d, b = r["meta"], r["driver"], r["bytes_per_chunk"]
    loads = [x["load_avg_at_start"] for x in r["runs"]]
    lines = [
        "# Ingest on Ray: throughput and scaling",
        "",
        f"{m['date']} · {m['cpus']} CPUs · encoder: {m['encoder']} · corpus: {m['corpus']['documents']} documents, "
        f"{r['runs'][0]['chunks']} chunks ({m['corpus']['how']})",
        "",
        "| run | embedding workers | Ray start s | ingest s | chunks/s | scaling efficiency | CPU s (all processes) | "
        "chunks per encoder CPU-s | CPU scaling efficiency | same index as single | load avg at start |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|",
    ]
    for x in r["runs"]:
        same = x.get("same_as_single")
        same_text = "—" if same is None else f"{'yes' if same['identical'] else 'NO'} (max vector diff {same['max_vector_diff']:.1e})"
        lines.append(
            f"| {x['mode']} | {x['workers'] or '— (all cores)'} | {x['ray_start_s'] if x['ray_start_s'] is not None else '—'} | "
            f"{x['seconds']} | {x['chunks_per_s']} | {x.get('scaling_efficiency', '—')} | {x['cpu_s_total']} | "
            f"{x.get('chunks_per_encoder_cpu_s', '—')} | {x.get('cpu_scaling_efficiency', '—')} | {same_text} | "
            f"{x['load_avg_at_start']} |"
        )
    lines += [
        "",
        "Scaling efficiency = chunks/s with n workers / (n × chunks/s with 1). Each worker is one Ray actor with one "
        "CPU (OMP_NUM_THREADS=1) and its own encoder; the single process encodes with every core. Ingest seconds "
        "include each actor loading its encoder; the Ray start is apart. One run each: with load averages of "
        f"{min(loads):.1f}-{max(loads):.1f} on {m['cpus']} CPUs from other jobs, wall-clock rates move by a fifth "
        "or more between runs. CPU seconds do not: they are this process's plus every Ray process it started "
        "(sampled from /proc; Ray's start-up excluded); CPU scaling efficiency = chunks per encoder CPU-second "
        "with n workers / with 1 (what running n encoders side by side costs each one).",
        "",
        "CPU seconds by process: " + "; ".join(
            f"{x['mode']}: " + ", ".join(f"{k} {v}" for k, v in x["cpu_s"].items()) for x in r["runs"]) + ".",
        "",
        f"Driver (single writer): parsing and chunking the corpus took {d['parse_chunk_s']} s ({d['parse_chunks_per_s']} "
        f"chunks/s; on Ray this runs in tasks); the same ingest with vectors looked up instead of encoded took "
        f"{d['ingest_without_encoding_s']} s, so the driver's own work (Chroma upserts, manifest records, document texts, "
        f"BM25 build at publish) runs at ~{d['write_chunks_per_s']} chunks/s.",
        "",
        f"Bytes per chunk in this index: vector {b['vector_bytes']} ({b['dim']} float32), text {b['text_bytes']}, "
        f"metadata {b['metadata_json_bytes']} (JSON); Chroma's HNSW {b['hnsw_bytes']} (hnswlib level 0 = vector + "
        f"{2 * HNSW_M} links + label; measured level-0 element in the segment file: {b['hnsw_level0_measured_bytes']}), "
        f"its SQLite {b['sqlite_bytes']} ({', '.join(f'{k} {v}' for k, v in b['sqlite_parts_bytes'].items())}); "
        f"ours beside it: BM25 {b['lexical_bytes']}, manifest {b['manifest_bytes']}.",
        "",
        "## Paper estimate",
        "",
        f"From the measured per-core rate ({r['per_core_chunks_per_s']} chunks per CPU-second of an encoder actor, "
        "ray-1: what a dedicated core does), the 2-worker CPU scaling efficiency, and the driver's rate: "
        "wall ≈ max(encoding on all cores, the driver's writes), as the two overlap.",
        "",
        "| chunks | cores | encoding h | driver h | wall h | bound by | Chroma server RAM (HNSW) GB | Chroma disk (SQLite) GB, without the vector log |",
        "|---:|---:|---:|---:|---:|---|---:|---:|",
    ]
    for e in r["estimates"]:
        lines.append(f"| {e['chunks']:,} | {e['cores']} | {e['encode_h']} | {e['driver_h']} | {e['wall_h']} | {e['bound']} | "
                     f"{e['chroma_ram_gb']} | {e['chroma_disk_gb']}, {e['chroma_disk_without_log_gb']} |")
    efficiency = min(r["runs"][2]["cpu_scaling_efficiency"], 1.0)
    crossover = d["write_chunks_per_s"] / (r["per_core_chunks_per_s"] * efficiency)
    lines += [
        "",
        "Caveats: the per-core rate is this VM's cores'; 64 cores means "
        "several nodes, where efficiency below the 2-worker figure is likely (shipping documents and vectors "
        f"between nodes). The single driver caps an ingest at ~{d['write_chunks_per_s']:.0f} chunks/s, the pace "
        f"of ~{crossover:.0f} cores at this per-core rate (fewer with a faster encoder: a quiet machine, int8, a "
        "GPU embeddings server); past that, speed needs several writers (collections written in parallel), "
        "not more workers, and the driver's rate was measured at 1k chunks: Chroma's inserts and the BM25 build "
        "slow as the index grows. RAM counts the HNSW only (Chroma keeps it in memory; hnswlib allocates in "
        "blocks, so add headroom) plus ~0.3 GB of server; the vector log is Chroma's write-ahead log, kept "
        "until compaction. The BM25 index every reader builds (our lexical index) grows at the rate above too.",
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tiny", action="store_true", help="fake encoder, 150 chunks")
    parser.add_argument("--chunks", type=int, default=1000, help="corpus size (at least this many chunks)")
    parser.add_argument("--out", type=Path, default=HERE / "reports")
    ns = parser.parse_args()
    report = run(150 if ns.tiny else ns.chunks, ns.tiny, ns.out)
    print(json.dumps({"runs": report["runs"], "estimates": report["estimates"]}, indent=1))
    return 0


if __name__ == "__main__":
    os.chdir(ROOT)
    sys.exit(main())
