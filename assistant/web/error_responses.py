"""How a failure reaches an HTTP client: a status, a stable code and a message.

Every web surface maps errors the same way (``describe_error``): an
``AssistantError`` keeps its status (400 bad input, 409 index state, 503
backend) and its ``code``; anything unexpected is a 503 ``internal_error``
whose message points at the server log. Clients branch on ``code``, which
never changes with a rename of a Python class. The JSON API's body is
``{"error": message, "code": code}``, plus ``"field"`` when one request field
is to blame.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from assistant.errors import AssistantError, InputError

log = logging.getLogger(__name__)

#: The code of a failure the assistant did not raise on purpose (a bug or a crash).
INTERNAL_ERROR = "internal_error"


@dataclass(frozen=True)
class ErrorReport:
    """What a client is told about one failure."""

    status: int
    code: str
    message: str
    field: str | None = None

    def body(self, **extra: Any) -> dict[str, Any]:
        """The JSON API's error body."""
        out: dict[str, Any] = {"error": self.message, "code": self.code}
        if self.field:
            out["field"] = self.field
        out.update(extra)
        return out

    def response(self, **extra: Any) -> JSONResponse:
        return JSONResponse(self.body(**extra), status_code=self.status)


def describe_error(exc: BaseException) -> ErrorReport:
    """The status, code and message every web surface reports for ``exc``.

    Logs unexpected errors with their traceback, since their message alone
    rarely says enough.
    """
    if isinstance(exc, AssistantError):
        return ErrorReport(exc.status_code, exc.code, str(exc), getattr(exc, "field", None))
    log.error("request failed", exc_info=exc)
    return ErrorReport(503, INTERNAL_ERROR, f"The assistant failed: {type(exc).__name__}: {exc}. See the server log.")


def _validation_report(exc: RequestValidationError) -> tuple[ErrorReport, list[dict[str, Any]]]:
    """FastAPI's request validation, reported like our own bad input: one field, one message."""
    errors = exc.errors()
    first = errors[0] if errors else {}
    loc = [str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path")]
    if first.get("type") == "json_invalid":
        loc = []  # the location is a character offset into the body, not a field
    field = ".".join(loc) or "body"
    message = f"{field}: {first.get('msg', 'invalid value')}"
    detail = [{"loc": list(e.get("loc", ())), "msg": e.get("msg"), "type": e.get("type")} for e in errors]
    return ErrorReport(422, InputError.code, message, field), detail


def install_error_handlers(app: FastAPI) -> None:
    """Make every error on ``app`` a JSON body with ``error`` and ``code``."""

    @app.exception_handler(AssistantError)
    async def _assistant_error(_: Request, exc: AssistantError) -> JSONResponse:
        return describe_error(exc).response()

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        report, detail = _validation_report(exc)
        return report.response(detail=detail)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        return describe_error(exc).response()
