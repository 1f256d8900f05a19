"""Collections through the command line (real subprocesses, real encoders): bad names, a missing
collection and an unconfirmed delete are refused clearly and touch no collection's files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.reliability.conftest import cli, subprocess_env

pytestmark = pytest.mark.integration
QUESTION = "How many people does the zinc mine employ?"


def _files(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_size for p in folder.rglob("*") if p.is_file()}


def test_collections_from_the_command_line(tmp_path: Path) -> None:
    env = subprocess_env(tmp_path / "index")
    for place, count in (("Peru", 400), ("Chile", 900)):
        folder = tmp_path / place.lower()
        folder.mkdir()
        (folder / f"{place.lower()}.md").write_text(f"# Zinc in {place}\n\nThe zinc mine in {place} employs {count} people.\n")
        done = cli(["ingest", "--collection", place.lower() + "-mines", str(folder)], env, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
        assert f"Creating collection '{place.lower()}-mines'" in done.stderr

    listed = json.loads(cli(["collections", "--json"], env).stdout)
    assert [(c["name"], c["documents"]) for c in listed] == [("assistant", 0), ("chile-mines", 1), ("peru-mines", 1)]
    for name, want, other in (("peru-mines", "400", "chile"), ("chile-mines", "900", "peru")):
        answer = json.loads(cli(["ask", "--json", "--collection", name, QUESTION], env, timeout=300).stdout)
        assert want in answer["text"] and {c["source"] for c in answer["citations"]} == {name.split("-")[0]}
        assert other not in json.dumps(answer["citations"])

    chile_files = _files(tmp_path / "index" / "collections" / "chile-mines")
    refused = [
        (["ask", "--collection", "nope", QUESTION], "No collection named 'nope'"),
        (["ask", "--collection", "../etc", QUESTION], "path characters"),
        (["ingest", "--collection", "", str(tmp_path / "peru")], "cannot be empty"),
        (["ingest", "--collection", "x" * 64, str(tmp_path / "peru")], "at most 63"),
        (["collections", "delete", "assistant", "--yes"], "cannot be deleted"),
        (["collections", "rename", "peru-mines", "chile-mines"], "already exists"),
        (["documents", "delete", "--collection", "chile-mines", "peru"], "Unknown document"),
    ]
    for args, message in refused:
        out = cli(args, env)
        assert out.returncode == 2 and message in out.stderr, (args, out.stderr[-1000:])
        assert out.stderr.count("\n") == 1  # one line, no traceback
    unconfirmed = cli(["collections", "delete", "peru-mines"], env, input="")  # no stdin: not confirmed
    assert unconfirmed.returncode != 0 and (tmp_path / "index" / "collections" / "peru-mines").is_dir()
    assert cli(["collections", "delete", "peru-mines", "--yes"], env).returncode == 0
    assert not (tmp_path / "index" / "collections" / "peru-mines").exists()
    assert _files(tmp_path / "index" / "collections" / "chile-mines") == chile_files  # untouched throughout
    assert [c["name"] for c in json.loads(cli(["collections", "--json"], env).stdout)] == ["assistant", "chile-mines"]
