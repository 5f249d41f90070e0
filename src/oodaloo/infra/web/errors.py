"""One application error base with a stable ``code``, and the handlers that render every error alike.

Every error answers ``{"error": {"code": ..., "message": ..., "field": ...}}``.
"""

from __future__ import annotations

import math
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from oodaloo.infra.jobs.smart_sync import QBOUnavailable

QBO_UNAVAILABLE_CODE = "qbo_unavailable"


class AppError(Exception):
    """An expected failure the client can act on; ``code`` is stable, ``message`` is for people."""

    status_code = 400
    code = "bad_request"
    message = "The request could not be processed."

    def __init__(
        self, message: str | None = None, *, field: str | None = None, headers: dict[str, str] | None = None
    ) -> None:
        self.message = message or self.message
        self.field = field
        self.headers = headers
        super().__init__(self.message)


class InvalidInput(AppError):
    status_code = 422
    code = "invalid_input"
    message = "The request contains an invalid value."


class NotAuthenticated(AppError):
    status_code = 401
    code = "not_authenticated"
    message = "Sign in or send a valid API token."

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message, headers={"WWW-Authenticate": "Bearer"})


class PermissionDenied(AppError):
    status_code = 403
    code = "permission_denied"
    message = "Your role does not allow this."


class NotFound(AppError):
    status_code = 404
    code = "not_found"
    message = "Not found."


class Conflict(AppError):
    status_code = 409
    code = "conflict"
    message = "The request conflicts with the current state."


class PreconditionRequired(AppError):
    """A header the request must carry to be safe (RFC 6585), e.g. the key that makes a retry harmless."""

    status_code = 428
    code = "precondition_required"
    message = "The request must carry a precondition header."


class TooManyRequests(AppError):
    status_code = 429
    code = "too_many_requests"
    message = "Too many requests; wait before trying again."

    def __init__(self, message: str | None = None, *, retry_after_seconds: float) -> None:
        # Retry-After takes whole seconds; rounding up never invites a retry that would be refused again.
        super().__init__(message, headers={"Retry-After": str(max(1, math.ceil(retry_after_seconds)))})


def error_body(code: str, message: str, field: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "field": field, **extra}}


def _field_of(error: dict[str, Any]) -> str | None:
    """("body", "email") -> "email"; ("body", "lines", 0, "amount") -> "lines.0.amount"; a bare ("body",) -> None."""
    if error.get("type") == "json_invalid":  # its location is a character offset, not a field
        return None
    location = error.get("loc", ())
    return ".".join(str(part) for part in location[1:]) or None


def _message_of(error: dict[str, Any], field: str | None) -> str:
    reason = str(error.get("msg", "Invalid value")).removeprefix("Value error, ")
    return f"{field}: {reason}" if field else reason


async def _app_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    return JSONResponse(error_body(exc.code, exc.message, exc.field), exc.status_code, headers=exc.headers)


async def _qbo_unavailable(_request: Request, exc: Exception) -> JSONResponse:
    """The one place "QuickBooks is unavailable" becomes an answer: 503, and when to try again."""
    assert isinstance(exc, QBOUnavailable)
    retry_after = max(1, math.ceil(exc.retry_after_seconds))
    message = f"QuickBooks is not answering right now; try again in {retry_after} seconds."
    body = error_body(QBO_UNAVAILABLE_CODE, message, retry_after_seconds=retry_after)
    return JSONResponse(body, 503, headers={"Retry-After": str(retry_after)})


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    first = errors[0] if errors else {}
    field = _field_of(first)
    details = [{"field": _field_of(error), "message": _message_of(error, None)} for error in errors]
    body = error_body("invalid_input", _message_of(first, field), field, details=details)
    return JSONResponse(body, 422)


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    status = HTTPStatus(exc.status_code)
    code = status.phrase.lower().replace(" ", "_").replace("-", "_")
    message = exc.detail if isinstance(exc.detail, str) and exc.detail != status.phrase else f"{status.phrase}."
    return JSONResponse(error_body(code, message), exc.status_code, headers=exc.headers)


def internal_error_body(request_id: str) -> dict[str, Any]:
    """What a client sees of an unexpected failure: no detail, only the reference to quote to support."""
    message = f"An internal error occurred. Quote request id {request_id} when reporting it."
    return error_body("internal_error", message, request_id=request_id)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(QBOUnavailable, _qbo_unavailable)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
