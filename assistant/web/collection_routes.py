"""``/api/collections``: list, create, rename and delete collections over HTTP.

A thin adapter over ``Assistant.collections`` (the same checks and messages as
``assistant collections``). Answers, documents, ingest and upload take a
``collection`` field or query parameter instead (``routes``).
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from assistant.assistant import Assistant
from assistant.errors import InputError, NotFoundError
from assistant.web.service import FieldError

router = APIRouter(prefix="/api/collections", tags=["collections"])


class CreateCollection(BaseModel):
    name: str = Field(..., description="3-63 letters, digits, '-' or '_'.", examples=["contracts"])
    chunk_tokens: int | None = Field(None, ge=16, le=2048)
    chunk_overlap: int | None = Field(None, ge=0, le=1024)
    retrieval: Literal["hybrid", "dense", "lexical"] | None = None
    index_embedding_backend: Literal["torch", "onnx", "onnx-int8", "e5"] | None = None


class RenameCollection(BaseModel):
    new_name: str = Field(..., description="The collection's new name.")


def _root(request: Request) -> Assistant:
    return request.app.state.assistant


def _named(field: str, call: Any) -> Any:
    """Run ``call``; its bad-name or missing-collection error points at ``field``."""
    try:
        return call()
    except NotFoundError as exc:
        raise FieldError(field, str(exc), 404, "not_found") from None
    except InputError as exc:
        raise FieldError(field, str(exc)) from None


@router.get("")
def list_collections(request: Request) -> list[dict[str, Any]]:
    """Every collection: name, documents, chunks, settings, folders, last sync (the default first)."""
    return [info.to_dict() for info in _root(request).collections.list()]


@router.get("/{name}")
def get_collection(name: str, request: Request) -> dict[str, Any]:
    return _named("name", lambda: _root(request).collections.get(name)).to_dict()


@router.post("", status_code=201)
def create_collection(req: CreateCollection, request: Request) -> dict[str, Any]:
    """Create a collection with the settings its index is built with (unset: the server's)."""
    shaping = req.model_dump(exclude={"name"}, exclude_none=True)
    return _named("name", lambda: _root(request).collections.create(req.name, **shaping)).to_dict()


@router.post("/{name}/rename")
def rename_collection(name: str, req: RenameCollection, request: Request) -> dict[str, Any]:
    root = _root(request)
    info = _named("name", lambda: root.collections.rename(name, req.new_name))
    root.forget_collection(name)
    return info.to_dict()


@router.delete("/{name}")
def delete_collection(name: str, request: Request) -> dict[str, Any]:
    """Delete a collection: its index, kept texts and uploads; no other collection is touched."""
    root = _root(request)
    _named("name", lambda: root.collections.delete(name))
    root.forget_collection(name)
    return {"deleted": name}
