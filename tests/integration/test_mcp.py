"""The official ``mcp`` SDK's stdio client drives ``assistant mcp`` as a subprocess."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys

import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

from tests.conftest import EXPLAINER, ROOT, SEEDS

pytestmark = pytest.mark.integration

QUESTION = "How is China enforcing its rare earth export restrictions?"


def _field(obj, *names):
    """mcp 2.x names fields in snake_case, 1.x in camelCase."""
    for name in names:
        value = getattr(obj, name, None)
        if value is not None:
            return value
    return None


def _payload(result) -> dict:
    structured = _field(result, "structured_content", "structuredContent")
    if structured:
        return structured
    return json.loads(result.content[0].text)


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> dict[str, str]:
    values = {
        **os.environ,
        "ASSISTANT_INDEX_DIR": str(tmp_path_factory.mktemp("index")),
        "ASSISTANT_LLM": "extractive",
        "HF_HUB_OFFLINE": "1",
        "ANONYMIZED_TELEMETRY": "False",
    }
    out = subprocess.run(
        [sys.executable, "-m", "assistant.cli", "ingest", "--quiet", str(SEEDS)],
        capture_output=True, text=True, env=values, cwd=ROOT, timeout=600,
    )
    assert out.returncode == 0, out.stderr
    return values


async def _session_run(env: dict[str, str], calls):
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "assistant.cli", "mcp"], env=env, cwd=str(ROOT)
    )
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        return await calls(session)


def test_stdio_client_lists_and_calls_both_tools(env):
    async def calls(session):
        tools = (await session.list_tools()).tools
        asked = await session.call_tool("ask", {"question": QUESTION})
        searched = await session.call_tool("search", {"query": "smuggling of rare earths", "k": 3})
        refused = await session.call_tool("ask", {"question": "   "})
        unknown = await session.call_tool("ask", {"question": QUESTION, "collection": "nope-collection"})
        return tools, asked, searched, refused, unknown

    tools, asked, searched, refused, unknown = asyncio.run(_session_run(env, calls))

    by_name = {t.name: t for t in tools}
    assert set(by_name) == {"ask", "search"}
    ask_schema = _field(by_name["ask"], "input_schema", "inputSchema")
    search_schema = _field(by_name["search"], "input_schema", "inputSchema")
    assert ask_schema["required"] == ["question"]
    assert set(search_schema["properties"]) == {"query", "k", "collection"}
    assert "collection" in ask_schema["properties"]

    assert not _field(asked, "is_error", "isError")
    answer = _payload(asked)
    assert answer["abstained"] is False and "[1]" in answer["text"]
    assert answer["citations"] and EXPLAINER in {c["source"] for c in answer["citations"]}
    for c in answer["citations"]:
        seed = (SEEDS / f"{c['source']}.txt").read_text(encoding="utf-8")
        assert seed[c["start"] : c["end"]] == c["snippet"]

    assert not _field(searched, "is_error", "isError")
    found = _payload(searched)["results"]
    assert 1 <= len(found) <= 3
    assert any("smuggl" in r["text"].lower() for r in found)
    for r in found:
        seed = (SEEDS / f"{r['source']}.txt").read_text(encoding="utf-8")
        assert seed[r["start"] : r["end"]] == r["text"]

    assert _field(refused, "is_error", "isError")
    assert "question is empty" in refused.content[0].text
    assert _field(unknown, "is_error", "isError") and "nope-collection" in unknown.content[0].text
