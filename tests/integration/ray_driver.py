"""A Ray ingest driver the integration tests can kill: ``python -m tests.integration.ray_driver``.

    python -m tests.integration.ray_driver INDEX_DIR CORPUS [--delay S] [--workers N] [--single]
        [--chroma-url URL] [--collection NAME]

Runs ``RayIngestPipeline`` (or, with ``--single``, ``IngestPipeline``) with
``SlowHashingEmbeddings`` in a private local Ray and prints the report as
JSON. The fake encoder is deterministic (the oracle ingest gets the same
vectors) and takes ``--delay`` seconds per chunk, so an ingest lasts long
enough to be killed mid-way, whatever the machine's speed; the real encoder
is exercised by the CLI tests.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from tests.fakes import HashingEmbeddings


class SlowHashingEmbeddings(HashingEmbeddings):
    """``HashingEmbeddings`` that takes ``delay`` seconds per text, like a real encoder on a busy CPU."""

    def __init__(self, delay: float = 0.0) -> None:
        super().__init__()
        self.delay = delay

    def encode(self, texts: list[str]) -> list[list[float]]:
        time.sleep(self.delay * len(texts))
        return super().encode(texts)


class SlowEncoderFactory:
    """Builds the slow encoder in each actor (a picklable callable, as ``IndexEncoderFactory`` is)."""

    def __init__(self, delay: float) -> None:
        self.delay = delay

    def __call__(self) -> SlowHashingEmbeddings:
        return SlowHashingEmbeddings(self.delay)


def open_assistant(index_dir: Path, chroma_url: str | None = None, collection: str | None = None):
    """An assistant over ``index_dir`` (or a Chroma server) whose index encoder is the fake."""
    from assistant import Assistant

    options: dict = {"index_dir": index_dir, "llm": "extractive"}
    if chroma_url:
        options["chroma_url"] = chroma_url
    if collection:
        options["collection"] = collection
    return Assistant(embeddings=HashingEmbeddings(), **options)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("index_dir", type=Path)
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--single", action="store_true")
    parser.add_argument("--chroma-url")
    parser.add_argument("--collection")
    args = parser.parse_args()
    assistant = open_assistant(args.index_dir, args.chroma_url, args.collection)
    if args.collection:
        assistant.collections.ensure(args.collection)
    if args.single:
        from assistant.ingest.pipeline import IngestPipeline

        report = IngestPipeline(assistant.index).run([args.corpus])
    else:
        from assistant.ingest.ray_ingest import RayIngestPipeline

        pipeline = RayIngestPipeline(assistant.index, address="local", workers=args.workers,
                                     make_encoder=SlowEncoderFactory(args.delay))
        report = pipeline.run([args.corpus])
    print(json.dumps(report.to_dict()))


if __name__ == "__main__":
    main()
