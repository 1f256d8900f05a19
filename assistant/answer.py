"""The typed results every surface shares: Answer, Citation, Claim, Conflict."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from assistant.errors import BackendError


def _known(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    """Only the fields ``cls`` has."""
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in data.items() if k in names}


@dataclass
class Citation:
    """One numbered source span; ``snippet == document_text[start:end]``."""

    id: int
    source: str  # document id (file stem)
    title: str
    section: str
    snippet: str
    start: int
    end: int
    score: float
    date: str | None = None
    page: int | None = None  # PDF page, set once by answering from the manifest; None for other formats

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Claim:
    """One sentence of the answer and the verdict on its support."""

    text: str
    citation_ids: list[int]
    supported: bool
    score: float
    kind: str = "fact"  # "fact", or "conflict" for a note that two cited sources disagree

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Conflict:
    """Sources that give different values for the same thing."""

    topic: str
    claims: list[dict[str, Any]]  # [{"text": str, "citation_id": int}]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Answer:
    """What ``Assistant.ask`` returns; ``to_dict`` is what ``ask --json`` prints."""

    text: str
    citations: list[Citation] = field(default_factory=list)
    abstained: bool = False
    claims: list[Claim] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)
    follow_ups: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Answer:
        """The inverse of ``to_dict`` (a saved conversation turn); unknown keys of an older or newer
        version are ignored, so every saved answer still opens."""
        return cls(
            text=str(data.get("text", "")),
            citations=[Citation(**_known(Citation, c)) for c in data.get("citations") or []],
            abstained=bool(data.get("abstained")),
            claims=[Claim(**_known(Claim, c)) for c in data.get("claims") or []],
            conflicts=[Conflict(**_known(Conflict, c)) for c in data.get("conflicts") or []],
            follow_ups=list(data.get("follow_ups") or []),
            timings=dict(data.get("timings") or {}),
            metadata=dict(data.get("metadata") or {}),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "citations": [c.to_dict() for c in self.citations],
            "abstained": self.abstained,
            "claims": [c.to_dict() for c in self.claims],
            "conflicts": [c.to_dict() for c in self.conflicts],
            "follow_ups": list(self.follow_ups),
            "timings": dict(self.timings),
            "metadata": dict(self.metadata),
        }


def final_answer(events: Iterable[str | Answer]) -> Answer:
    """Drain an answer stream (tokens, then one ``Answer``) and return the ``Answer``.

    Every surface that does not show tokens (``Assistant.ask``, the JSON API,
    the OpenAI route without ``stream``, MCP, the CLI) ends a stream this way.

    Args:
        events: what ``Assistant.stream`` yields.

    Returns:
        The last ``Answer`` in the stream.

    Raises:
        BackendError: the stream ended without an ``Answer`` (a bug in the chain).
    """
    final: Answer | None = None
    for event in events:
        if isinstance(event, Answer):
            final = event
    if final is None:
        raise BackendError("The answering chain ended without an answer; see the server log.")
    return final
