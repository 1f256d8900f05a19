"""``ingest --ray`` without Ray: its stages run in-process, batches arriving out of order.

The oracle is the single-process ``IngestPipeline``: for the same files the
Ray pipeline must leave the same chunk ids, texts, metadata, vectors and
manifest entries, and return the same report. The real cluster (local Ray,
killed driver and workers) is in ``tests/integration/test_ray_ingest.py``.
"""

from __future__ import annotations

import random
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from assistant.errors import ConfigError, InputError
from assistant.ingest.pipeline import IngestPipeline
from assistant.ingest.ray_ingest import RayIngestPipeline
from assistant.ingest.ray_runtime import PARSE_BATCH, documents_per_batch
from assistant.ingest.ray_stages import SKIP, WRITE, file_rows, parse_files
from tests.conftest import EXPLAINER, ROOT, STORY
from tests.fakes import HashingEmbeddings
from tests.index_state import assert_same_index
from tests.reliability.corpus import make_corpus


class InProcessRay:
    """Runs the stages as Ray would: parse tasks of ``PARSE_BATCH`` files, then embedding
    calls of ``embed_batch`` documents, finishing in a shuffled order, as numpy columns.

    ``fail_after`` raises after that many batches were handed out (a crash mid-ingest);
    ``batch`` overrides the documents per embedding call.
    """

    def __init__(self, seed: int = 0, fail_after: int | None = None, batch: int | None = None) -> None:
        self.rng = random.Random(seed)
        self.fail_after = fail_after
        self.batch = batch
        self.parsed_files = 0  # files the parse stage parsed and chunked (not skipped)
        self.encoded = 0

    def __call__(self, rows, parse, parse_kwargs, embed_class, make_encoder, workers, embed_batch):
        outputs = []
        for i in range(0, len(rows), PARSE_BATCH):
            part = rows[i : i + PARSE_BATCH]
            out = parse({k: np.array([r[k] for r in part], dtype=object) for k in part[0]}, **parse_kwargs)
            self.parsed_files += sum(1 for s in out["status"] if s == WRITE)
            outputs.extend({k: v[n] for k, v in out.items()} for n in range(len(out["order"])))
        self.rng.shuffle(outputs)
        embed = embed_class(make_encoder)
        embed_batch = self.batch or embed_batch
        for n, i in enumerate(range(0, len(outputs), embed_batch)):
            if self.fail_after is not None and n >= self.fail_after:
                raise RuntimeError("driver killed")
            part = outputs[i : i + embed_batch]
            batch = embed({k: np.array([r[k] for r in part], dtype=object) for k in part[0]})
            self.encoded += sum(batch["embedded"])
            yield {k: np.array(v, dtype=object) for k, v in batch.items()}


def _ray(assistant, runner: InProcessRay | None = None, encoder=HashingEmbeddings) -> RayIngestPipeline:
    return RayIngestPipeline(assistant.index, make_encoder=encoder, run_batches=runner or InProcessRay())


def _report(report) -> dict:
    out = report.to_dict()
    out.pop("seconds")
    return out


@pytest.fixture
def corpus(seeds_copy: Path) -> Path:
    make_corpus(seeds_copy / "generated", 40)
    return seeds_copy


def test_the_ray_pipeline_builds_the_index_and_report_a_local_ingest_builds(make_assistant, corpus):
    local, ray = make_assistant(), make_assistant()
    expected = IngestPipeline(local.index).run([corpus])
    got = _ray(ray).run([corpus])
    assert _report(got) == _report(expected)
    assert len(got.added) == 42 and got.chunks_added > 50
    assert_same_index(local, ray)
    # Readers see it: the snapshot was published.
    assert ray.search("Reference code QX0007ZR", k=3)[0]["doc_id"] == "doc0007"


def test_a_rerun_skips_every_file_without_parsing_or_encoding_it(make_assistant, corpus):
    assistant = make_assistant()
    _ray(assistant).run([corpus])
    runner = InProcessRay(seed=1)
    report = _ray(assistant, runner).run([corpus])
    assert len(report.skipped) == 42 and report.added == report.updated == [] and report.chunks_added == 0
    assert runner.parsed_files == 0 and runner.encoded == 0


def test_an_edit_encodes_only_the_changed_chunks_as_a_local_ingest_does(make_assistant, corpus):
    local, ray = make_assistant(), make_assistant()
    IngestPipeline(local.index).run([corpus])
    _ray(ray).run([corpus])
    story = corpus / f"{STORY}.txt"
    story.write_text(story.read_text() + "\n\nOverview\n  • Zanzibar quartz prices doubled in August.\n")
    expected = IngestPipeline(local.index).run([corpus])
    runner = InProcessRay(seed=2)
    got = _ray(ray, runner).run([corpus])
    assert got.updated == [STORY] and _report(got) == _report(expected)
    assert 0 < got.chunks_embedded == runner.encoded < 5
    assert_same_index(local, ray)


def test_a_renamed_file_reuses_its_vectors_and_the_old_document_goes(make_assistant, corpus):
    assistant = make_assistant()
    _ray(assistant).run([corpus])
    (corpus / f"{EXPLAINER}.txt").rename(corpus / "explainer.txt")
    runner = InProcessRay(seed=3)
    report = _ray(assistant, runner).run([corpus])
    assert report.added == ["explainer"] and report.removed == [EXPLAINER]
    assert report.chunks_embedded == runner.encoded == 0  # every vector came from the store
    fresh = make_assistant()
    IngestPipeline(fresh.index).run([corpus])
    assert_same_index(fresh, assistant)


def test_refused_duplicate_and_deleted_files_are_reported_as_a_local_ingest_reports_them(make_assistant, corpus):
    local, ray = make_assistant(), make_assistant()
    IngestPipeline(local.index).run([corpus])
    _ray(ray).run([corpus])
    (corpus / "generated" / "doc0003.txt").write_bytes(b"\x00\x00binary")
    (corpus / "generated" / "doc0004.txt").write_text("   \n")
    (corpus / "generated" / "doc0005.txt").unlink()
    (corpus / "again").mkdir()
    shutil.copy(corpus / f"{STORY}.txt", corpus / "again" / f"{EXPLAINER}.txt")  # a second file with one id
    (corpus / "notes.xyz").write_text("unsupported")
    expected = IngestPipeline(local.index).run([corpus])
    got = _ray(ray, InProcessRay(seed=4)).run([corpus])
    assert got.removed == ["doc0005"] and len(got.errors) == 4
    assert _report(got) == _report(expected)
    assert_same_index(local, ray)


def test_a_run_that_dies_mid_ingest_is_resumed_without_duplicates(make_assistant, corpus, monkeypatch):
    monkeypatch.setattr("assistant.ingest.pipeline.SAVE_EVERY_S", 0.0)  # checkpoint after every window
    monkeypatch.setattr("assistant.ingest.pipeline.WRITE_BATCH", 8)
    assistant = make_assistant()
    with pytest.raises(RuntimeError, match="driver killed"):
        _ray(assistant, InProcessRay(seed=5, fail_after=2, batch=4)).run([corpus])
    recorded = assistant.index.load_stored_manifest()
    assert recorded is not None and 0 < len(recorded.documents) < 42  # a checkpoint, not the whole run
    report = _ray(assistant, InProcessRay(seed=6)).run([corpus])
    assert len(report.skipped) == len(recorded.documents) and len(report.added) == 42 - len(recorded.documents)
    fresh = make_assistant()
    IngestPipeline(fresh.index).run([corpus])
    assert_same_index(fresh, assistant)
    stored = assistant.index.stored_chunk_ids()
    assert len(stored) == len(set(stored)) == len(assistant.index.load_stored_manifest().chunk_ids())


def test_workers_with_another_encoder_are_refused_before_anything_is_written(make_assistant, corpus):
    class OtherEncoder(HashingEmbeddings):
        model_name = "another-model"

    assistant = make_assistant()
    with pytest.raises(ConfigError, match="'another-model'.*'hashing-fake'"):
        _ray(assistant, encoder=OtherEncoder).run([corpus])
    assert assistant.index.stored_chunk_ids() == []


def test_files_the_workers_cannot_see_are_named_with_the_fix(make_assistant, corpus, monkeypatch):
    real = parse_files

    def elsewhere(batch, **kwargs):  # a worker on another machine: none of these paths exist there
        batch = dict(batch, path=np.array(["/nonexistent" + p for p in batch["path"]], dtype=object),
                     abs_path=np.array(["/nonexistent" + p for p in batch["abs_path"]], dtype=object))
        out = real(batch, **kwargs)
        out["path"] = [p.removeprefix("/nonexistent") for p in out["path"]]
        return out

    monkeypatch.setattr("assistant.ingest.ray_ingest.parse_files", elsewhere)
    with pytest.raises(InputError, match="exists on this machine.*every node mounts"):
        _ray(make_assistant()).run([corpus])


def test_the_parse_stage_skips_an_unchanged_file_before_parsing_it(corpus, monkeypatch):
    files = [corpus / f"{STORY}.txt"]
    import hashlib

    digest = hashlib.sha256(files[0].read_text(encoding="utf-8").encode()).hexdigest()
    monkeypatch.setattr("assistant.ingest.ray_stages.parse_document", lambda *a: pytest.fail("parsed"))
    rows = file_rows(files, {STORY: digest}, {})
    out = parse_files({k: [r[k] for r in rows] for k in rows[0]}, 10**7, 160, 32, str(Path.cwd()))
    assert out["status"] == [SKIP] and out["payload"] == [b""] and out["hash"] == [digest]


def test_ray_address_setting_and_flag(tmp_path, monkeypatch):
    from assistant.cli import RAY_FROM_SETTINGS, _ray_address_and_paths
    from assistant.settings import load_settings

    assert load_settings(ray_address="local").ray_address is None
    assert load_settings(ray_address=" ").ray_address is None
    assert load_settings(ray_address="ray://head:10001").ray_address == "ray://head:10001"
    with pytest.raises(ConfigError, match="ASSISTANT_RAY_WORKERS=0"):
        load_settings(ray_workers=0)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "seeds").mkdir()
    assert _ray_address_and_paths(RAY_FROM_SETTINGS, ("seeds",)) == (RAY_FROM_SETTINGS, ("seeds",))
    assert _ray_address_and_paths("seeds", ()) == (RAY_FROM_SETTINGS, ("seeds",))  # `--ray seeds`
    assert _ray_address_and_paths("ray://head:10001", ("seeds",)) == ("ray://head:10001", ("seeds",))
    assert _ray_address_and_paths("10.0.0.5:6379", ("seeds",)) == ("10.0.0.5:6379", ("seeds",))
    assert _ray_address_and_paths("local", ("a",)) == ("local", ("a",))
    assert _ray_address_and_paths(None, ("a",)) == (None, ("a",))


def test_the_cli_hands_ingest_ray_its_address_and_paths(tmp_path, monkeypatch, seeds_copy):
    from assistant.cli import main
    from assistant.ingest.pipeline import IngestReport

    calls = []

    def fake(assistant, paths, address, progress):
        calls.append((paths, address))
        return IngestReport(added=["x"])

    monkeypatch.setattr("assistant.ingest.ray_ingest.ingest_with_ray", fake)
    monkeypatch.setenv("ASSISTANT_INDEX_DIR", str(tmp_path / "index"))
    monkeypatch.setenv("ASSISTANT_LLM", "extractive")
    runner = CliRunner()
    for args, expected in [
        (["--ray", str(seeds_copy)], ([str(seeds_copy)], None)),
        (["--ray", "ray://head:10001", str(seeds_copy)], ([str(seeds_copy)], "ray://head:10001")),
        ([str(seeds_copy), "--ray=local"], ([str(seeds_copy)], "local")),
    ]:
        done = runner.invoke(main, ["ingest", "--quiet", *args])
        assert done.exit_code == 0, done.output
        assert calls.pop() == expected
    done = runner.invoke(main, ["ingest", "--ray"])
    assert done.exit_code == 2 and "Missing argument 'PATHS...'" in done.output
    done = runner.invoke(main, ["ingest", "--ray", "--watch", str(seeds_copy)])
    assert done.exit_code == 2 and "--ray and --watch" in done.output


def test_importing_the_package_does_not_import_ray():
    code = "import sys, assistant, assistant.cli, assistant.ingest.ray_ingest; print('ray' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "False", done.stderr


def test_workers_build_the_index_encoder_the_settings_name_and_get_no_unrelated_secrets(make_assistant):
    from assistant.ingest.ray_stages import IndexEncoderFactory

    assistant = make_assistant(openai_api_key="sk-secret", api_token="tok", embeddings_url="http://127.0.0.1:9/v1",
                               embeddings_api_key="emb-key")
    factory = RayIngestPipeline(assistant.index).make_encoder
    assert isinstance(factory, IndexEncoderFactory)
    shipped = factory.settings
    assert shipped.openai_api_key is None and shipped.api_token is None
    assert shipped.embeddings_api_key.get_secret_value() == "emb-key"  # the actors call the server with it
    assert type(factory()).__name__ == "RemoteEmbeddings"  # nothing connects until it encodes
    local = IndexEncoderFactory(assistant.settings.model_copy(update={"embeddings_url": None}))()
    assert local.model_name.startswith("multilingual-e5-small")


def test_progress_counts_every_file_and_chunk_as_they_come_back(make_assistant, corpus):
    assistant = make_assistant()
    calls: list[tuple[int, int, int]] = []
    report = _ray(assistant).run([corpus], progress=lambda *a: calls.append(a))
    assert [c[0] for c in calls] == list(range(1, 43)) and {c[1] for c in calls} == {42}
    assert calls[-1][2] == report.chunks_added
    calls.clear()
    _ray(assistant).run([corpus], progress=lambda *a: calls.append(a))  # all skipped: files still counted
    assert calls[-1] == (42, 42, 0)


def test_an_embedding_call_gets_about_64_chunks_of_documents():
    assert 60 <= documents_per_batch(650.0, 160) <= 64  # one-chunk notes
    assert 4 <= documents_per_batch(7_500.0, 160) <= 6  # explainers of a dozen chunks
    assert documents_per_batch(5_000_000.0, 160) == 1 and documents_per_batch(0.0, 160) == 64


def test_embedding_actors_leave_a_parse_task_room_on_the_cluster():
    from assistant.ingest.ray_runtime import actors_that_fit, local_cpus

    assert actors_that_fit(3.0, 2) == 2 and actors_that_fit(2.0, 2) == 1 and actors_that_fit(64.0, 8) == 8
    assert all(actors_that_fit(local_cpus(w), w) == w for w in (1, 2, 3, 8))  # a local Ray always fits them
    with pytest.raises(ConfigError, match="has 1 CPUs; an ingest needs at least 1.5"):
        actors_that_fit(1.0, 2)
