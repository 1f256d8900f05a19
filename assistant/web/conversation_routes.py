"""Saved conversations and feedback over HTTP: ``/api/conversations`` and ``/api/feedback``.

Each route is a thin adapter over ``Assistant.conversations`` (the
``ConversationStore``) for the caller that ``request_owner`` names. The store
does every check (id shape, title, rating, text limits) and reports another
owner's conversation exactly like a missing one, so these routes neither
repeat the checks nor can leak whether an id exists (404, never 403).

The request models document the types the store expects but leave checking
the values to it (``SkipValidation``): its messages name the field and the
bad value, and are the very words the CLI and the Python API use, where
pydantic's would only say that the type is wrong. Pydantic still refuses a
missing field, an unknown one, or a body that is not JSON.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, SkipValidation

from assistant.conversations import ConversationRecord, ConversationStore
from assistant.conversations.export import EXPORT_FORMATS, export
from assistant.conversations.records import RATINGS
from assistant.web.owner import request_owner

router = APIRouter(prefix="/api")


def _store(request: Request) -> ConversationStore:
    return request.app.state.assistant.conversations


StoreDep = Annotated[ConversationStore, Depends(_store)]
OwnerDep = Annotated[str, Depends(request_owner)]


class NewConversation(BaseModel):
    # Unknown fields are refused: a misspelt "titel" should not silently make an untitled conversation.
    model_config = ConfigDict(extra="forbid")

    title: SkipValidation[str | None] = Field(
        None, description="Optional; without one the first question becomes the title.", examples=["Rare earth exports"]
    )


class Rename(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: SkipValidation[str] = Field(..., description="The new title (at most 200 characters).", examples=["China's export controls"])


class FeedbackRequest(BaseModel):
    # Unknown fields are refused: a misspelt "coment" would otherwise be dropped without a word.
    model_config = ConfigDict(extra="forbid")

    turn_id: SkipValidation[str] = Field(..., description="The answer's turn_id (from /api/ask or GET /api/conversations/{id}).")
    rating: SkipValidation[str] = Field(
        ..., description="'up' or 'down'.", examples=["down"], json_schema_extra={"enum": list(RATINGS)}
    )
    comment: SkipValidation[str | None] = Field(None, description="What was wrong or right (ASSISTANT_MAX_FEEDBACK_CHARS).")
    correction: SkipValidation[str | None] = Field(None, description="The right answer (with a 'down' rating); becomes a gold line.")
    facts: SkipValidation[list[str] | None] = Field(None, description="Short facts the right answer must contain (with 'down').")
    sources: SkipValidation[list[str] | None] = Field(None, description="Document ids that hold the right answer.")


def _summary(conversation: ConversationRecord) -> dict[str, Any]:
    """A listing entry: no ``turns`` key, since an empty list there would read as 'no turns'."""
    out = conversation.to_dict()
    del out["turns"]
    return out


@router.post("/conversations", tags=["conversations"], status_code=201)
def create_conversation(
    store: StoreDep, owner: OwnerDep, body: NewConversation | None = None
) -> dict[str, Any]:
    """Start an empty conversation; ask in it with ``/api/ask`` and ``"conversation_id"``."""
    return store.create(owner, title=body.title if body else None).to_dict()


@router.get("/conversations", tags=["conversations"])
def list_conversations(
    store: StoreDep, owner: OwnerDep, limit: int = Query(200, ge=1, le=1000, description="At most this many.")
) -> list[dict[str, Any]]:
    """Your conversations, most recently used first: id, title, times, turn_count."""
    return [_summary(c) for c in store.list(owner, limit=limit)]


@router.get("/conversations/{conversation_id}", tags=["conversations"])
def get_conversation(conversation_id: str, store: StoreDep, owner: OwnerDep) -> dict[str, Any]:
    """One conversation with its turns in order; each turn holds its ``question``, ``position``,
    ``answer`` (``Answer.to_dict()``) and latest ``feedback`` (or null)."""
    return store.get(conversation_id, owner).to_dict()


@router.patch("/conversations/{conversation_id}", tags=["conversations"])
def rename_conversation(conversation_id: str, body: Rename, store: StoreDep, owner: OwnerDep) -> dict[str, Any]:
    """Change a conversation's title; returns the conversation."""
    return store.rename(conversation_id, body.title, owner).to_dict()


@router.delete("/conversations/{conversation_id}", tags=["conversations"], status_code=204)
def delete_conversation(conversation_id: str, store: StoreDep, owner: OwnerDep) -> Response:
    """Delete a conversation with its turns and their feedback."""
    store.delete(conversation_id, owner)
    return Response(status_code=204)


@router.get("/conversations/{conversation_id}/export", tags=["conversations"])
def export_conversation(
    conversation_id: str,
    store: StoreDep,
    owner: OwnerDep,
    fmt: str = Query("md", alias="format", description=f"One of {', '.join(EXPORT_FORMATS)}."),
) -> Response:
    """Download a conversation as Markdown (questions, cited answers, sources) or JSON."""
    conversation = store.get(conversation_id, owner)
    text, media_type = export(conversation, fmt)
    filename = export_filename(conversation, fmt)
    return Response(text, media_type=media_type, headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def export_filename(conversation: ConversationRecord, fmt: str) -> str:
    """``<title as ASCII words>-<id prefix>.<fmt>``: readable in a downloads folder, safe in a header.

    Only ``[a-z0-9-]`` survive, so a title cannot break the quoted
    Content-Disposition value; the id prefix keeps two same-titled exports apart.
    """
    ascii_title = unicodedata.normalize("NFKD", conversation.title).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")[:60].rstrip("-") or "conversation"
    return f"{slug}-{conversation.id[:8]}.{fmt}"


@router.post("/feedback", tags=["conversations"], status_code=201)
def add_feedback(body: FeedbackRequest, store: StoreDep, owner: OwnerDep) -> dict[str, Any]:
    """Rate one answer (the latest rating of a turn counts). A 'down' rating may carry a
    correction and the facts it must contain: the operator exports those as gold lines
    (``conversations.export.gold_lines``) so ``assistant eval`` tests the fix."""
    return store.add_feedback(
        body.turn_id, body.rating, owner,
        comment=body.comment, correction=body.correction, facts=body.facts, sources=body.sources,
    ).to_dict()
