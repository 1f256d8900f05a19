"""The documents panel's handlers: upload into, re-index and delete from the picked collection.

Every action names the collection it works on (the selector's value, an
input of the event), so it never lands in another one, and each ends by
reading the collection's documents again: the list, the picker and the
selector's counts always say what is indexed. Deleting a document is asked
twice, as deleting a conversation is; the file it was read from is kept.
Opening a document is the browser's alone (``static/chat.js`` fetches
``/api/documents/{id}?collection=``), so it has no handler here.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import gradio as gr

from assistant.assistant import Assistant
from assistant.errors import AssistantError
from assistant.web.chat.library import assistant_for, refreshed
from assistant.web.chat.render import render_notice, render_upload_report
from assistant.web.chat.view import View
from assistant.web.uploads import ingest_uploads

log = logging.getLogger(__name__)


class DocumentHandlers:
    """What the documents panel does, over the server's assistant and its collections."""

    def __init__(self, assistant: Assistant) -> None:
        self.assistant = assistant

    def _collection(self, collection: str | None) -> str:
        return collection or self.assistant.settings.collection

    def upload(
        self, files: list[str] | None, collection: str | None, progress: gr.Progress = gr.Progress()  # noqa: B008
    ) -> tuple[Any, ...]:
        """Index the chosen files into ``collection``: the report, its documents again, an emptied picker."""
        if not files:
            return View(upload_status=render_notice("Choose one or more documents to upload first.", "warn")).outputs()
        name = self._collection(collection)
        pairs = [(Path(f).name, Path(f)) for f in files]
        try:
            target = assistant_for(self.assistant, name)
            report = ingest_uploads(target, pairs, progress=lambda frac, desc: progress(frac, desc=desc))
        except AssistantError as exc:
            return View(upload_status=render_upload_report(None, str(exc)), files=None).outputs()
        return View(upload_status=render_upload_report(report), files=None, document_status="",
                    **refreshed(self.assistant, name)).outputs()

    def ask_delete(self, doc_id: str | None) -> tuple[Any, ...]:
        """Delete was clicked: ask again (nothing is deleted yet)."""
        if not doc_id:
            return View(document_status=render_notice("Pick a document first.", "warn")).outputs()
        return View(document_confirm=gr.update(visible=True), document_status="").outputs()

    def keep(self) -> tuple[Any, ...]:
        return View(document_confirm=gr.update(visible=False)).outputs()

    def delete(self, doc_id: str | None, collection: str | None) -> tuple[Any, ...]:
        """Remove ``doc_id`` (its chunks and kept text) from ``collection``."""
        name = self._collection(collection)
        if not doc_id:
            return View(document_confirm=gr.update(visible=False),
                        document_status=render_notice("Pick a document first.", "warn")).outputs()
        try:
            assistant_for(self.assistant, name).delete_document(doc_id)
        except AssistantError as exc:
            return View(document_confirm=gr.update(visible=False),
                        document_status=render_notice(str(exc), "err")).outputs()
        log.info("chat deleted document %s from %s", doc_id, name)
        return View(document_status=render_notice(f"Deleted {doc_id} from \u201c{name}\u201d."),
                    **refreshed(self.assistant, name)).outputs()

    def reindex(self, doc_id: str | None, collection: str | None) -> tuple[Any, ...]:
        """Parse, chunk and index ``doc_id``'s file again (unchanged chunks keep their vectors)."""
        name = self._collection(collection)
        if not doc_id:
            return View(document_status=render_notice("Pick a document first.", "warn")).outputs()
        try:
            report = assistant_for(self.assistant, name).reindex_document(doc_id)
        except AssistantError as exc:
            return View(document_status=render_notice(str(exc), "err")).outputs()
        if report.errors:
            reasons = "; ".join(f"{Path(e.get('path') or doc_id).name}: {e.get('reason')}" for e in report.errors)
            message, kind = f"Could not re-index {doc_id}: {reasons}", "err"
        else:
            message, kind = f"Re-indexed {doc_id} in \u201c{name}\u201d: {report.summary()}.", "ok"
        return View(document_status=render_notice(message, kind), **refreshed(self.assistant, name)).outputs()
