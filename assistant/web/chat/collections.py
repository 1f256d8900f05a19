"""The collection bar's handlers: pick the collection questions go to, or create one.

Switching collection starts a new, empty chat (the conversation on screen
stays saved in the sidebar): its answers cite another collection's documents,
and its follow-ups would be read against them. The suggested questions, the
document list and the picker follow the new collection (``library.showing``).
Names are checked by ``Assistant.collections``, so a bad or taken name gets
the same message as the CLI and ``POST /api/collections``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from assistant.assistant import Assistant
from assistant.errors import AssistantError
from assistant.web.chat.conversations import ConversationHandlers
from assistant.web.chat.library import showing
from assistant.web.chat.render import render_notice
from assistant.web.chat.view import KEEP, View


class CollectionHandlers:
    """What the collection selector and the create box do.

    Args:
        assistant: the server's assistant, whose ``collections`` these are.
        conversations: for the empty chat a switch starts.
    """

    def __init__(self, assistant: Assistant, conversations: ConversationHandlers) -> None:
        self.assistant = assistant
        self.conversations = conversations

    def _fresh_chat(self, name: str | None, message: str, kind: str = "ok") -> View:
        """An empty chat over collection ``name`` (the server's own when it is gone)."""
        fields = showing(self.assistant, name)
        shown = fields["collection"]["value"]
        if name and shown != name:
            message, kind = f"There is no collection \u201c{name}\u201d any more; showing \u201c{shown}\u201d.", "warn"
        # The question box is kept: a question typed before picking the right collection is not lost.
        return replace(self.conversations.closed(collection=shown), question=KEEP,
                       collection_status=render_notice(message, kind), **fields)

    def switch(self, name: str | None) -> tuple[Any, ...]:
        """The user picked collection ``name``: a new chat over it, its documents and questions."""
        return self._fresh_chat(
            name, f"Asking \u201c{name}\u201d now: a new conversation (earlier ones stay in the sidebar)."
        ).outputs()

    def create(self, new_name: str | None, current: str | None) -> tuple[Any, ...]:
        """Create collection ``new_name`` (the server's chunking and retrieval settings) and switch to it."""
        name = (new_name or "").strip()
        try:
            info = self.assistant.collections.create(name)
        except AssistantError as exc:
            return View(collection_status=render_notice(str(exc), "err")).outputs()
        view = self._fresh_chat(
            info.name, f"Created \u201c{info.name}\u201d. Add documents to it under Documents below, then ask."
        )
        return replace(view, new_collection="").outputs()
