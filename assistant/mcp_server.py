"""``assistant mcp``: the corpus as an MCP server over stdio, for MCP-aware assistants.

Two tools, built on the official ``mcp`` SDK:

* ``ask(question, collection)``: the answer with ``[n]`` markers, its citations (source,
  title, section, page for PDFs, exact snippet and offsets) and whether it
  abstained;
* ``search(query, k, collection)``: the retrieved spans with their sources and scores,
  for a client that wants to read the evidence itself.

The ``ask`` tool goes through the same ``AnswerService`` as the HTTP API and
the chat (validation, answering lock, error messages); ``search`` validates
its query the same way.

The SDK's server class is ``MCPServer`` in mcp 2.x and ``FastMCP`` in 1.x; the
tools and ``run("stdio")`` are the same in both. Over stdio, stdout carries the
protocol, so anything else that prints goes to stderr.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Iterator
from typing import Any

from assistant.errors import AssistantError
from assistant.ingest.formats import page_in_manifest
from assistant.web.service import AnswerService

SERVER_NAME = "assistant"
INSTRUCTIONS = (
    "Answers questions about an indexed folder of news-style documents. Use `ask` for a "
    "cited answer (it says when the documents do not cover the question) and `search` "
    "to read the matching source passages. Cite sources as [n] with their titles."
)
MAX_K = 50


def _sdk() -> tuple[Any, type[Exception]]:
    """The SDK's server class and the error whose message a tool result shows the client."""
    try:
        from mcp.server.mcpserver import MCPServer
        from mcp.server.mcpserver.exceptions import ToolError

        return MCPServer, ToolError
    except ImportError:  # mcp 1.x
        from mcp.server.fastmcp import FastMCP  # type: ignore[attr-defined]
        from mcp.server.fastmcp.exceptions import ToolError as V1ToolError  # type: ignore

        return FastMCP, V1ToolError


@contextlib.contextmanager
def _tool_call(tool_error: type[Exception]) -> Iterator[None]:
    """Stray prints go to stderr; our errors reach the client with their message.

    The SDK hides the message of any exception but its ``ToolError`` (it could
    leak internals); an ``AssistantError`` message is written for the user.
    """
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    except AssistantError as exc:
        raise tool_error(str(exc)) from None


def build_server(assistant: Any = None) -> Any:
    """An MCP server with the ``ask`` and ``search`` tools over ``assistant``.

    Args:
        assistant: the ``Assistant`` to serve; built from the environment when None.
    """
    if assistant is None:
        from assistant.assistant import Assistant

        assistant = Assistant()
    service = AnswerService(assistant)
    server_class, tool_error = _sdk()
    server = server_class(SERVER_NAME, instructions=INSTRUCTIONS)

    @server.tool()
    def ask(question: str, collection: str | None = None) -> dict[str, Any]:
        """Answer a question from the indexed documents, with numbered citations.

        `collection` picks a named collection of documents (default: the server's).
        Returns the answer text (sentences end in [n] markers), the citations
        (n, source document id, title, section, PDF page, exact snippet and
        character offsets) and `abstained`, true when the documents do not
        answer the question.
        """
        with _tool_call(tool_error):
            answer = service.ask(question, collection=collection)
        return {
            "text": answer.text,
            "abstained": answer.abstained,
            "citations": [c.to_dict() for c in answer.citations],
            "follow_ups": list(answer.follow_ups),
        }

    @server.tool()
    def search(query: str, k: int = 5, collection: str | None = None) -> dict[str, Any]:
        """Find the passages of the indexed documents that best match a query.

        `collection` picks a named collection of documents (default: the server's).
        Returns up to k passages (1-50), best first, each with its text, source
        document id, title, section, PDF page, character offsets and score.
        """
        k = max(1, min(int(k), MAX_K))
        with _tool_call(tool_error):
            query = service.check_question(query)
            target = service.collection(collection)
            hits = target.search(query, k=k)
            # Search hits carry no page; the manifest has each PDF's page spans.
            manifest = target.index.manifest()
        return {"query": query, "results": [_search_result(hit, manifest) for hit in hits]}

    return server


def _search_result(hit: dict[str, Any], manifest: Any) -> dict[str, Any]:
    """One retrieved span as the ``search`` tool returns it, with its PDF page from ``manifest``."""
    return {
        "text": hit["text"],
        "source": hit.get("doc_id"),
        "title": hit.get("title"),
        "section": hit.get("section"),
        "page": page_in_manifest(manifest, hit.get("doc_id", ""), int(hit.get("start", 0))),
        "start": hit.get("start"),
        "end": hit.get("end"),
        "score": round(float(hit.get("fused_score") or 0.0), 6),
    }


def run_stdio(assistant: Any = None) -> None:
    """Serve MCP on stdin/stdout until the client closes the stream.

    The encoder loads in the background while the client connects, so the
    first tool call does not wait for it.
    """
    with contextlib.redirect_stdout(sys.stderr):
        if assistant is None:
            from assistant.assistant import Assistant

            assistant = Assistant()
        server = build_server(assistant)
    threading.Thread(target=_warm_up, args=(assistant,), daemon=True, name="mcp-warm-up").start()
    server.run("stdio")


def _warm_up(assistant: Any) -> None:
    with contextlib.suppress(Exception):  # a failure shows up, with its message, on the first call
        assistant.embeddings.warm_up()
        assistant.index.manifest()
