"""The ingest plan: what an ingest adds, updates, skips and removes, decided before it writes."""

from __future__ import annotations

from pathlib import Path

from assistant.ingest.documents import load_documents
from assistant.ingest.pipeline import IngestPipeline, plan_ingest
from tests.conftest import EXPLAINER, STORY


def _plan(assistant, roots: list[Path]):
    docs, errors = load_documents(roots, assistant.settings.max_file_bytes)
    manifest = assistant.index.manifest()
    settings = assistant.settings
    return plan_ingest(manifest, docs, roots, [p for p, _ in errors], settings.chunk_tokens, settings.chunk_overlap)


def test_an_empty_index_plans_to_write_every_document(make_assistant, seeds_copy):
    plan = _plan(make_assistant(), [seeds_copy])
    assert sorted(doc.id for doc, _ in plan.write) == [STORY, EXPLAINER]
    assert plan.skip == [] and plan.remove == []
    assert plan.total_chunks == sum(len(chunks) for _, chunks in plan.write) > 10


def test_an_unchanged_document_is_skipped(make_assistant, seeds_copy):
    assistant = make_assistant()
    assistant.ingest([seeds_copy])
    plan = _plan(assistant, [seeds_copy])
    assert sorted(plan.skip) == [STORY, EXPLAINER]
    assert plan.write == [] and plan.remove == []


def test_a_changed_document_is_planned_for_update_and_the_other_skipped(make_assistant, seeds_copy):
    assistant = make_assistant()
    assistant.ingest([seeds_copy])
    story = seeds_copy / f"{STORY}.txt"
    story.write_text(story.read_text() + "\n\nOverview\n  • Zanzibar quartz prices doubled in August.\n")
    plan = _plan(assistant, [seeds_copy])
    assert [doc.id for doc, _ in plan.write] == [STORY] and plan.skip == [EXPLAINER]
    assert any("Zanzibar" in chunk.text for _, chunks in plan.write for chunk in chunks)
    report = assistant.ingest([seeds_copy])
    assert report.updated == [STORY] and report.skipped == [EXPLAINER] and report.added == []


def test_a_deleted_file_is_planned_for_removal(make_assistant, seeds_copy):
    assistant = make_assistant()
    assistant.ingest([seeds_copy])
    (seeds_copy / f"{EXPLAINER}.txt").unlink()
    plan = _plan(assistant, [seeds_copy])
    assert plan.remove == [EXPLAINER] and plan.skip == [STORY] and plan.write == []
    report = assistant.ingest([seeds_copy])
    assert report.removed == [EXPLAINER] and report.chunks_removed > 0
    assert EXPLAINER not in assistant.index.manifest().documents


def test_a_refused_file_is_neither_removed_nor_rewritten(make_assistant, seeds_copy):
    assistant = make_assistant()
    assistant.ingest([seeds_copy])
    (seeds_copy / f"{STORY}.txt").write_bytes(b"\x00\x00binary garbage")
    plan = _plan(assistant, [seeds_copy])
    assert plan.remove == [] and plan.skip == [EXPLAINER] and plan.write == []


def test_documents_outside_the_ingested_paths_are_kept(make_assistant, seeds_copy, tmp_path):
    assistant = make_assistant()
    assistant.ingest([seeds_copy])
    other = tmp_path / "other"
    other.mkdir()
    (other / "note.txt").write_text("Note\n\nGallium output rose in May.\n", encoding="utf-8")
    plan = _plan(assistant, [other])
    assert plan.remove == [] and [doc.id for doc, _ in plan.write] == ["note"]


def test_planning_writes_nothing(make_assistant, seeds_copy):
    assistant = make_assistant()
    assistant.ingest([seeds_copy])
    (seeds_copy / f"{EXPLAINER}.txt").unlink()
    before = assistant.index.manifest().to_json()
    _plan(assistant, [seeds_copy])
    assert assistant.index.load_stored_manifest().to_json() == before
    assert assistant.index.count_chunks() == len(set(assistant.index.stored_chunk_ids()))


def test_the_pipeline_reports_progress_per_document(make_assistant, seeds_copy):
    assistant = make_assistant()
    seen: list[tuple[int, int, str]] = []
    report = IngestPipeline(assistant.index).run([seeds_copy], progress=lambda *a: seen.append(a))
    assert sorted(doc_id for _, _, doc_id in seen) == sorted(report.added)
    assert seen[-1][0] == seen[-1][1] == report.chunks_added
