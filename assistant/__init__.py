"""Question answering over news-style documents with verified citations.

Public API::

    from assistant import Assistant
    assistant = Assistant()
    assistant.ingest(["seeds/"])
    answer = assistant.ask("How is China enforcing its rare earth export restrictions?")
"""

from assistant.answer import Answer, Citation, Claim, Conflict
from assistant.assistant import Assistant
from assistant.errors import AssistantError, BackendError, ConfigError, IndexStateError, InputError
from assistant.ingest.pipeline import IngestReport
from assistant.settings import Settings, load_settings

__all__ = [
    "Answer",
    "Assistant",
    "AssistantError",
    "BackendError",
    "Citation",
    "Claim",
    "ConfigError",
    "Conflict",
    "IndexStateError",
    "IngestReport",
    "InputError",
    "Settings",
    "load_settings",
]
