"""Bad input through the Python API, and answering while another thread ingests.

Real embedded Chroma store in a temp index, fake encoder (fast and offline).
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from assistant import Assistant
from assistant.errors import ConfigError, InputError
from tests.conftest import SEEDS
from tests.fakes import HashingEmbeddings
from tests.reliability.conftest import record
from tests.reliability.corpus import make_corpus, marker


def _assistant(index_dir: Path, **overrides) -> Assistant:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    client = chromadb.PersistentClient(path=str(index_dir / "chroma"), settings=ChromaSettings(anonymized_telemetry=False))
    overrides.setdefault("abstain_threshold", 0.3)
    return Assistant(index_dir=index_dir, llm="extractive", embeddings=HashingEmbeddings(), chroma_client=client, **overrides)


def _state(assistant: Assistant) -> dict[str, int]:
    manifest = assistant.index.manifest()
    return {doc_id: len(e.chunk_ids) for doc_id, e in manifest.documents.items()}


def _stored(assistant: Assistant) -> int:
    return len(assistant.index.collection.get(include=[])["ids"])


BAD_QUESTIONS = {
    "empty": "",
    "whitespace": " \t\n  ",
    "100,000 characters": "why " * 25_000,
    "only control characters": "\x00\x01\x02\x7f",
    "not a string": 42,
}
SAFE_QUESTIONS = {
    "NUL and control characters inside": "What did\x00 China\x07 restrict\x1b in April?",
    "HTML/JS": "<script>alert('x')</script><img src=x onerror=alert(1)> What are rare earths?",
    "right-to-left and emoji": "\u202eWhat 🤔 did China restrict?",
}


def _bad_files(folder: Path) -> dict[str, str]:
    """Every kind of file an ingest must refuse (name -> what it is)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "empty.txt").write_bytes(b"")
    (folder / "blank.md").write_text(" \n\t\n", encoding="utf-8")
    (folder / "binary.txt").write_bytes(bytes(range(256)) * 8)
    (folder / "latin1.txt").write_bytes("Caf\xe9 cr\xe8me, na\xefve r\xe9sum\xe9.".encode("latin-1"))
    (folder / "huge.txt").write_text("Rare earths. " * 4000, encoding="utf-8")  # over the 20 kB cap below
    (folder / "program.exe").write_bytes(b"MZ\x90\x00")
    (folder / "noext").write_text("no extension", encoding="utf-8")
    loop = folder / "loop"
    loop.mkdir(exist_ok=True)
    if not (loop / "again").exists():
        os.symlink("..", loop / "again")  # a symlink loop
    return {
        "empty.txt": "zero bytes", "blank.md": "whitespace only", "binary.txt": "binary (NUL bytes)",
        "latin1.txt": "not UTF-8", "huge.txt": "over ASSISTANT_MAX_FILE_BYTES", "program.exe": "unsupported extension",
        "noext": "no extension", "again": "symlink loop",
    }


def test_bad_questions_and_files_through_the_python_api_lose_nothing(tmp_path):
    assistant = _assistant(tmp_path / "index", max_file_bytes=20_000)
    assistant.ingest([SEEDS])
    before, stored_before = _state(assistant), _stored(assistant)
    tried: list[dict[str, str]] = []

    for name, question in BAD_QUESTIONS.items():
        t0 = time.perf_counter()
        with pytest.raises(InputError) as err:
            assistant.ask(question)  # type: ignore[arg-type]
        assert time.perf_counter() - t0 < 5
        tried.append({"surface": "python", "input": f"question: {name}", "outcome": f"InputError: {str(err.value)[:90]}"})
    for name, question in SAFE_QUESTIONS.items():
        answer = assistant.ask(question)
        data = answer.to_dict()
        assert isinstance(data["text"], str)
        for c in answer.citations:
            assert (SEEDS / f"{c.source}.txt").read_text(encoding="utf-8")[c.start : c.end] == c.snippet
        tried.append({"surface": "python", "input": f"question: {name}",
                      "outcome": "abstained" if answer.abstained else f"answered, {len(answer.citations)} exact citations"})

    bad = tmp_path / "bad"
    kinds = _bad_files(bad)
    (bad / "good.txt").write_text("Good document\n\nThe zirconite deposit was found in 2024.\n", encoding="utf-8")
    (bad / "page.md").write_text("# <script>alert('doc')</script> Page\n\nThe <b>yttrium</b> <img src=x onerror=alert(1)> plant opened.\n", encoding="utf-8")
    report = assistant.ingest([bad])
    refused = {Path(e["path"]).name: e["reason"] for e in report.errors}
    for name, kind in kinds.items():
        assert name in refused, (name, refused)
        reason = refused[name].replace(str(bad) + "/", "")
        tried.append({"surface": "python", "input": f"file: {kind}", "outcome": f"refused: {reason[:110]}"})
    assert sorted(report.added) == ["good", "page"]
    # HTML in a Markdown document is not text its reader reads: tags and script bodies are dropped.
    page = assistant.document_text("page")
    assert "The yttrium plant opened." in page and "<" not in page and "alert" not in page
    tried.append({"surface": "python", "input": "file: HTML/JS in a Markdown document",
                  "outcome": "indexed as its text; tags and script bodies dropped"})

    for paths, what in ([["/no/such/folder"], "missing path"], [[], "no path"],
                        [[str(bad / ".." / "bad" / ".." / ".." / "nowhere")], "path traversal to a missing folder"]):
        with pytest.raises(InputError) as err:
            assistant.ingest(paths)
        shown = str(err.value).replace(str(tmp_path), "<tmp>")
        tried.append({"surface": "python", "input": f"ingest: {what}", "outcome": f"InputError: {shown[:110]}"})
    for bad_setting in ({"k": "abc"}, {"chunk_overlap": 500, "chunk_tokens": 100}, {"llm": "gpt-17"}):
        with pytest.raises(ConfigError) as err:
            Assistant(index_dir=tmp_path / "index", embeddings=HashingEmbeddings(), **bad_setting)
        tried.append({"surface": "python", "input": f"setting {bad_setting}", "outcome": f"ConfigError: {str(err.value).replace(str(tmp_path), '<tmp>')[:110]}"})

    after = _state(assistant)
    lost = {d: n for d, n in before.items() if after.get(d) != n}
    record("bad_input", "python api", tried=tried, lost_chunks=sum(lost.values()),
           chunks_before=stored_before, chunks_after=_stored(assistant))
    assert not lost
    assert _stored(assistant) == stored_before + after["good"] + after["page"]


def test_a_bad_file_replacing_a_good_one_keeps_the_indexed_version(tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "report.txt").write_text("Quarterly report\n\nThe holmium price doubled in May.\n", encoding="utf-8")
    assistant = _assistant(tmp_path / "index")
    assistant.ingest([folder])
    before = _state(assistant)
    for broken in (b"", b"\xff\xfe\x00\x00garbage", b"x" * 30_000_000):
        (folder / "report.txt").write_bytes(broken)
        report = assistant.ingest([folder])
        assert report.errors and report.removed == [] and _state(assistant) == before
        assert "holmium" in assistant.document_text("report")
    record("bad_input", "a good file overwritten by a bad one", outcome="refused; the indexed version is kept",
           variants=["zero bytes", "binary", "30 MB (over the cap)"])


def test_questions_during_an_ingest_are_answered_from_a_consistent_index(tmp_path):
    """One thread ingests (adds, then edits, then deletes documents) while two others ask."""
    index_dir, corpus = tmp_path / "index", tmp_path / "corpus"
    writer = _assistant(index_dir)
    writer.ingest([SEEDS])
    paths = make_corpus(corpus, 120)
    versions: dict[str, set[str]] = {p.stem: set() for p in paths}
    seeds_text = {p.stem: p.read_text(encoding="utf-8") for p in SEEDS.glob("*.txt")}
    done = threading.Event()
    errors: list[str] = []
    asked = {"n": 0, "citations": 0}

    def ingest_rounds() -> None:
        try:
            for p in paths:
                versions[p.stem].add(p.read_text(encoding="utf-8"))
            writer.ingest([SEEDS, corpus])
            for p in paths[:60]:  # edit half
                p.write_text(p.read_text(encoding="utf-8") + "An added closing line about terbium magnets.\n", encoding="utf-8")
                versions[p.stem].add(p.read_text(encoding="utf-8"))
            writer.ingest([SEEDS, corpus])
            for p in paths[100:]:  # delete some
                p.unlink()
            writer.ingest([SEEDS, corpus])
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(f"ingest: {exc!r}")
        finally:
            done.set()

    def ask_loop(worker: int) -> None:
        questions = ["What did China do in April?", "Why are rare earths critical?",
                     *[f"Which dispatch has reference code {marker(i)}?" for i in range(0, 120, 7)]]
        i = 0
        while not done.is_set() and i < 400:
            q = questions[(i + worker) % len(questions)]
            i += 1
            try:
                answer = writer.ask(q)
            except Exception as exc:  # noqa: BLE001
                errors.append(f"ask {q!r}: {exc!r}")
                continue
            asked["n"] += 1
            for c in answer.citations:
                asked["citations"] += 1
                texts = [seeds_text[c.source]] if c.source in seeds_text else versions.get(c.source, set())
                if not any(t[c.start : c.end] == c.snippet for t in texts):
                    errors.append(f"citation {c.source}[{c.start}:{c.end}] is not text of any version")

    threads = [threading.Thread(target=ingest_rounds)] + [threading.Thread(target=ask_loop, args=(w,)) for w in range(2)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=240)
    assert not any(t.is_alive() for t in threads)
    # After the ingest: every citation is exact against the current text, and the deleted are gone.
    final_errors = []
    for q in ["What did China do in April?", f"Which dispatch has reference code {marker(3)}?"]:
        for c in writer.ask(q).citations:
            if writer.document_text(c.source)[c.start : c.end] != c.snippet:
                final_errors.append(c.source)
    assert not {f"doc{i:04d}" for i in range(100, 120)} & {d["id"] for d in writer.documents()}
    record("concurrency", "answering while another thread ingests",
           questions_answered=asked["n"], citations_checked=asked["citations"], ingest_rounds=3,
           documents="2 seeds + 120 generated (60 edited, 20 deleted mid-run)",
           errors=errors[:5], seconds=round(time.perf_counter() - t0, 1))
    assert asked["n"] > 0 and errors == [] and final_errors == []


def test_a_malformed_setting_never_echoes_secrets(monkeypatch):
    """Found by these tests: a model-level settings error printed every value read, tokens included."""
    from assistant.settings import load_settings

    monkeypatch.setenv("ASSISTANT_API_TOKEN", "tok-should-stay-hidden")
    monkeypatch.setenv("ASSISTANT_OPENAI_API_KEY", "sk-should-stay-hidden")
    messages = []
    for var, value in (("ASSISTANT_CHUNK_OVERLAP", "999"), ("ASSISTANT_K", "abc"), ("ASSISTANT_LLM", "nope")):
        monkeypatch.setenv(var, value)
        with pytest.raises(ConfigError) as err:
            load_settings()
        monkeypatch.delenv(var)
        messages.append(str(err.value))
    assert not any("hidden" in m for m in messages), messages
    assert "ASSISTANT_K='abc'" in messages[1] and "chunk_overlap" in messages[0]
    record("security", "secrets in settings error messages", checked=len(messages), leaks=0,
           fixed="settings.describe_validation_error no longer echoes the whole input of a model-level error")
