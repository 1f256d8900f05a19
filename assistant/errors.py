"""A small exception hierarchy whose messages name the offending value and the fix."""

from __future__ import annotations


class AssistantError(Exception):
    """Base class for every error the assistant raises on purpose.

    Surfaces (CLI, HTTP, UI) print ``str(error)`` to the user without a
    traceback, so every message says what was wrong and what to do.
    """

    #: HTTP status the API maps this error to.
    status_code = 400
    #: Stable machine-readable code that HTTP clients see (never a Python class name).
    code = "assistant_error"


class InputError(AssistantError):
    """The caller passed a bad question, path, file or id.

    ``field`` names the request field to blame when there is one, so the
    JSON API can report it next to the message.
    """

    code = "invalid_input"

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class NotFoundError(InputError):
    """An id names nothing the caller may see (unknown, deleted, or another owner's: all alike)."""

    status_code = 404
    code = "not_found"


class ConfigError(AssistantError):
    """A setting has a value the assistant cannot use."""

    code = "invalid_config"


class IndexStateError(AssistantError):
    """The index is missing, locked or inconsistent.

    Not ``IndexError``: that would shadow the builtin.
    """

    status_code = 409
    code = "index_state"


class BackendError(AssistantError):
    """A backend (LLM server, Chroma server) failed after bounded retries."""

    status_code = 503
    code = "backend_unavailable"


__all__ = [
    "AssistantError",
    "BackendError",
    "ConfigError",
    "IndexStateError",
    "InputError",
    "NotFoundError",
]
