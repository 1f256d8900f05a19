"""What the chat shows of the collection it asks: the selector, the document list and picker.

Each collection is a whole index with its own documents and "Go deeper"
questions, so whenever the chat's collection changes (picked, created, or
brought back with a saved conversation) the selector, the document list and
the document picker change together. ``showing`` gives them all as ``View``
fields, so no handler can update one and forget another. The collection is
never remembered on the server: it is the selector's value, an input of every
event that needs it.
"""

from __future__ import annotations

import logging
from typing import Any

import gradio as gr

from assistant.assistant import Assistant
from assistant.errors import AssistantError
from assistant.web.chat.render import render_documents

log = logging.getLogger(__name__)


def assistant_for(root: Assistant, name: str | None) -> Assistant:
    """The assistant of collection ``name`` (empty: ``root``'s own), sharing ``root``'s models.

    Raises:
        AssistantError: the name is invalid or no collection has it.
    """
    return root.for_collection(name or None)


def _label(name: str, documents: int) -> str:
    return f"{name} · {documents} document{'' if documents == 1 else 's'}"


def collection_choices(root: Assistant) -> list[tuple[str, str]]:
    """``(label, name)`` of every collection, the default first; the label counts its documents."""
    try:
        return [(_label(info.name, info.documents), info.name) for info in root.collections.list()]
    except Exception as exc:  # one unreadable record or manifest must not hide the others
        log.warning("cannot count the collections' documents: %s", exc)
    try:
        return [(name, name) for name in root.collections.names()]
    except Exception as exc:
        log.warning("cannot list the collections: %s", exc)
        return [(root.settings.collection, root.settings.collection)]


def selector(root: Assistant, name: str | None = None) -> tuple[Any, str]:
    """The selector's update with fresh choices, and the collection it now shows.

    With ``name`` the selector moves to it (``root``'s own when it no longer exists);
    without, only the choices change (an upload that finishes after the user picked
    another collection must not pick for them).
    """
    choices = collection_choices(root)
    if name is None:
        return gr.update(choices=choices), root.settings.collection
    shown = name if any(value == name for _, value in choices) else root.settings.collection
    return gr.update(choices=choices, value=shown), shown


def document_fields(root: Assistant, name: str) -> dict[str, Any]:
    """The document list and the picker of collection ``name``, the delete confirmation put away."""
    try:
        docs = assistant_for(root, name).documents()
    except Exception as exc:  # an unreadable index must not break the page
        log.warning("cannot list the documents of %s: %s", name, exc)
        message = str(exc) if isinstance(exc, AssistantError) else type(exc).__name__
        return {"documents": render_documents(None, name, message),
                "document_pick": gr.update(choices=[], value=None), "document_confirm": gr.update(visible=False)}
    picks = [(f"{d['title'] or d['id']} ({d['id']})", d["id"]) for d in docs]
    return {"documents": render_documents(docs, name), "document_pick": gr.update(choices=picks, value=None),
            "document_confirm": gr.update(visible=False)}


def showing(root: Assistant, name: str | None) -> dict[str, Any]:
    """The View fields of a chat that asks collection ``name`` (``root``'s own when it is gone)."""
    update, shown = selector(root, name or root.settings.collection)
    return {"collection": update, **document_fields(root, shown)}


def refreshed(root: Assistant, name: str) -> dict[str, Any]:
    """After documents changed in ``name``: its list and picker, and every collection's count."""
    update, _ = selector(root)
    return {"collection": update, **document_fields(root, name)}
