"""Bad input through the command line (real subprocesses, real MiniLM): clear one-line errors, exit 2."""

from __future__ import annotations

import json

import pytest

from tests.conftest import SEEDS
from tests.reliability.conftest import cli, record, subprocess_env
from tests.reliability.test_python_api import _bad_files

pytestmark = pytest.mark.integration


def test_cli_refuses_bad_input_clearly_and_keeps_the_index(tmp_path):
    index_dir = tmp_path / "index"
    env = subprocess_env(index_dir, ASSISTANT_MAX_FILE_BYTES="20000")
    tried = []
    first = cli(["ingest", "--json", str(SEEDS)], env, timeout=300)
    assert first.returncode == 0, first.stderr[-2000:]
    before = json.loads(first.stdout)["chunks_added"]

    bad = tmp_path / "bad"
    kinds = _bad_files(bad)
    (bad / "fine.txt").write_text("Fine document\n\nThe samarium mine reopened in 2023.\n", encoding="utf-8")
    out = cli(["ingest", str(bad)], env, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    for name, kind in kinds.items():
        line = next((ln for ln in out.stderr.splitlines() if ln.startswith("refused") and name in ln), None)
        assert line, (name, out.stderr[-2000:])
        reason = line.split(f"{name}: ", 1)[-1]
        reason = reason.split(f"{name}: ", 1)[-1]  # the reason may name the file again
        tried.append({"surface": "cli", "input": f"ingest: {kind}", "outcome": f"refused {name}: {reason}"[:120]})
    assert "added 1" in out.stdout

    cases = [
        ("ask: empty question", ["ask", ""], {}),
        ("ask: whitespace question", ["ask", "   \t "], {}),
        ("ask: 100,000-character question", ["ask", "why " * 25_000], {}),
        ("ask: control characters only", ["ask", "\x01\x02\x1b"], {}),
        ("ingest: missing folder", ["ingest", str(tmp_path / "nope")], {}),
        ("ingest: path traversal to a missing folder", ["ingest", str(bad) + "/../../../../no-such-dir"], {}),
        ("setting ASSISTANT_K=abc", ["ask", "What happened?"], {"ASSISTANT_K": "abc"}),
        ("setting ASSISTANT_CHUNK_OVERLAP=999", ["ask", "What happened?"], {"ASSISTANT_CHUNK_OVERLAP": "999"}),
        ("setting ASSISTANT_LLM=gpt-17", ["config"], {"ASSISTANT_LLM": "gpt-17"}),
    ]
    eval_gold = tmp_path / "gold.jsonl"
    eval_gold.write_text('{"id": "q1", "question": "What?", "answerable": true, "facts": "not a list"}\n{not json\n', encoding="utf-8")
    cases.append(("eval: malformed gold file", ["eval", "--gold", str(eval_gold), "--labels", "", "--out", str(tmp_path / "rep")], {}))
    for label, args, extra in cases:
        res = cli(args, {**env, **extra}, timeout=300)
        message = (res.stderr.strip().splitlines() or [""])[-1]
        shown = message.replace(str(tmp_path), "<tmp>")
        tried.append({"surface": "cli", "input": label, "outcome": f"exit {res.returncode}: {shown[:120]}"})
        assert res.returncode == 2, (label, res.returncode, res.stderr[-1500:])
        assert message.startswith("error:") and "Traceback" not in res.stderr, (label, res.stderr[-1500:])

    after = cli(["documents"], env, timeout=300)
    chunks = {line.split("\t")[0]: int(line.split("\t")[1].split()[0]) for line in after.stdout.splitlines()}
    seeds_after = sum(n for doc, n in chunks.items() if doc != "fine")
    record("bad_input", "cli", tried=tried, chunks_before=before, seed_chunks_after=seeds_after,
           lost_chunks=max(0, before - seeds_after))
    assert seeds_after == before and "fine" in chunks
