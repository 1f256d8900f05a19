"""Question answering over news-style documents with verified citations.

Public API::

    from assistant import Assistant
    assistant = Assistant()
    assistant.ingest(["seeds/"])
    answer = assistant.ask("How is China enforcing its rare earth export restrictions?")
"""

from .assistant import Assistant
from .errors import AssistantError, BackendError, ConfigError, IndexStateError, InputError
from .index import IngestReport
from .settings import Settings, load_settings
from .types import Answer, Citation, Claim, Conflict

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
