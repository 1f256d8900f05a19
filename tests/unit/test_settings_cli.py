import json

import pytest
from click.testing import CliRunner

from assistant.cli import main
from assistant.errors import ConfigError
from assistant.settings import load_settings


def test_env_values_are_typed(monkeypatch):
    monkeypatch.setenv("ASSISTANT_K", "5")
    monkeypatch.setenv("ASSISTANT_LLM", "extractive")
    s = load_settings()
    assert s.k == 5 and s.llm == "extractive"


@pytest.mark.parametrize(("var", "value"), [("ASSISTANT_K", "many"), ("ASSISTANT_LLM", "gpt9"),
                                            ("ASSISTANT_CHUNK_OVERLAP", "500")])
def test_bad_settings_name_the_variable(monkeypatch, var, value):
    monkeypatch.setenv(var, value)
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert "ASSISTANT_" in str(err.value)


def test_config_masks_secrets(monkeypatch):
    monkeypatch.setenv("ASSISTANT_OPENAI_API_KEY", "sk-secret")
    out = CliRunner().invoke(main, ["config", "--json"])
    assert out.exit_code == 0
    data = json.loads(out.output)
    assert data["openai_api_key"] == "****" and "sk-secret" not in out.output


def test_cli_errors_are_one_line_and_exit_2(tmp_path, monkeypatch):
    monkeypatch.setenv("ASSISTANT_INDEX_DIR", str(tmp_path / "idx"))
    result = CliRunner().invoke(main, ["ingest", str(tmp_path / "missing")])
    assert result.exit_code == 2
    assert "no such file or folder" in result.output and "Traceback" not in result.output
    result = CliRunner().invoke(main, ["ask", "   "])
    assert result.exit_code == 2 and "empty" in result.output


def test_cli_bad_setting_exits_2(monkeypatch):
    monkeypatch.setenv("ASSISTANT_K", "zero")
    result = CliRunner().invoke(main, ["config"])
    assert result.exit_code == 2 and "ASSISTANT_K" in result.output


def test_bench_command_runs_the_project_benchmark_script(monkeypatch, tmp_path):
    import subprocess

    calls = []
    monkeypatch.setattr(subprocess, "call", lambda args: calls.append(args) or 0)
    result = CliRunner().invoke(main, ["bench", "--quick", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    script = calls[0][1]
    assert script.endswith("bench/run.py") and calls[0][2:] == ["--quick", "--out", str(tmp_path)]


def test_cli_ask_prints_the_streamed_verified_sentences_as_the_answer(monkeypatch):
    """No unverified draft: what is printed while answering is the answer, then its sources."""
    from assistant import Answer, Citation

    answer = Answer(text="Exports rose [1]. Prices fell [1].",
                    citations=[Citation(id=1, source="doc", title="T", section="S", snippet="Exports rose.",
                                        start=0, end=13, score=0.9)])

    class StreamingAssistant:
        def stream(self, question, k=None):
            yield "Exports rose [1]."
            yield " Prices fell [1]."
            yield answer

    monkeypatch.setattr("assistant.cli._assistant", lambda **kw: StreamingAssistant())
    result = CliRunner().invoke(main, ["ask", "Did exports rise?"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Exports rose [1]. Prices fell [1].\n\n[1] T — S (chars 0-13)")
    assert result.stderr == ""
