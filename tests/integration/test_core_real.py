"""The real MiniLM encoder and the real local LLM on the seed corpus."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from assistant import Answer, Assistant
from tests.conftest import EXPLAINER, ROOT, SEEDS

pytestmark = pytest.mark.integration

GO_DEEPER = [
    "How is China enforcing its rare earth export restrictions?",
    "What steps is the US taking to reduce dependence on Chinese rare earths?",
    "Why are rare earths so critical to technology and defense industries?",
]


@pytest.fixture(scope="module")
def real(tmp_path_factory) -> Assistant:
    assistant = Assistant(index_dir=tmp_path_factory.mktemp("index"), llm="llamacpp")
    report = assistant.ingest([SEEDS])
    assert len(report.added) == 2
    return assistant


def _assert_exact_snippets(answer: Answer) -> None:
    for c in answer.citations:
        text = (SEEDS / f"{c.source}.txt").read_text(encoding="utf-8")
        assert text[c.start : c.end] == c.snippet


@pytest.mark.parametrize("question", GO_DEEPER)
def test_go_deeper_questions_are_answered_with_exact_citations(real, question):
    answer = real.ask(question)
    assert not answer.abstained
    assert answer.citations and "[1]" in answer.text
    assert EXPLAINER in {c.source for c in answer.citations}
    _assert_exact_snippets(answer)
    assert all(claim.supported for claim in answer.claims)


def test_streaming_with_the_local_llm_yields_tokens_first(real):
    events = list(real.stream(GO_DEEPER[0]))
    assert isinstance(events[-1], Answer)
    assert len(events) > 3 and all(isinstance(e, str) for e in events[:-1])
    assert events[-1].timings["first_token_s"] < events[-1].timings["total_s"]


@pytest.mark.parametrize("question", ["What is the capital of France?", "Who won the 2018 FIFA World Cup?"])
def test_off_topic_questions_abstain(real, question):
    answer = real.ask(question)
    assert answer.abstained and not answer.citations


def test_unchanged_reingest_is_a_no_op(real):
    report = real.ingest([SEEDS])
    assert report.added == [] and report.updated == [] and len(report.skipped) == 2


def test_cli_ask_json_prints_only_the_answer(real, tmp_path):
    env = {**os.environ, "ASSISTANT_INDEX_DIR": str(real.settings.index_dir), "ASSISTANT_LLM": "extractive"}
    out = subprocess.run(
        [sys.executable, "-m", "assistant.cli", "ask", "--json", GO_DEEPER[1]],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=300,
    )
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert set(data) == {"text", "citations", "abstained", "claims", "conflicts", "follow_ups", "timings", "metadata"}
    assert data["citations"] and not data["abstained"]
