"""The contract's error format `{"error": {"code", "message", "details"}}` and its handlers."""

from __future__ import annotations

import logging
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("rally.errors")


class ApiError(Exception):
    """A domain error that carries its HTTP status and a stable code."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, details: Any = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        if code:
            self.code = code


class BadRequest(ApiError):
    status, code = 400, "bad_request"


class Unauthorized(ApiError):
    status, code = 401, "unauthorized"


class Forbidden(ApiError):
    status, code = 403, "forbidden"


class NotFound(ApiError):
    status, code = 404, "not_found"


class Conflict(ApiError):
    status, code = 409, "conflict"


class PayloadTooLarge(ApiError):
    status, code = 413, "payload_too_large"


class UnsupportedMediaType(ApiError):
    status, code = 415, "unsupported_media_type"


class Unprocessable(ApiError):
    status, code = 422, "validation_error"


class TooManyRequests(ApiError):
    status, code = 429, "rate_limited"


class ServiceUnavailable(ApiError):
    status, code = 503, "unavailable"


class ErrorInfo(BaseModel):
    code: str = Field(description="Stable and machine-readable, e.g. `not_found`, `invalid_cursor`.")
    message: str = Field(description="One line for people, naming the field or rule at fault.")
    details: Any = Field(None, description="What the code needs to act on, or null.")


class ErrorResponse(BaseModel):
    """The body of every error answer: `{"error": {"code", "message", "details"}}`."""

    error: ErrorInfo


class ValidationIssue(BaseModel):
    loc: list[str] = Field(description="Where: `body`, `query` or `path`, then the field names.")
    msg: str
    type: str


class ValidationErrorInfo(ErrorInfo):
    details: list[ValidationIssue] | dict[str, Any] | None = Field(
        None, description="A list of issues when the request does not parse (`validation_error`); "
                          "an object naming the values at fault when a rule refuses it; or null.")


class ValidationErrorResponse(BaseModel):
    """A 422: the request parsed but is not acceptable. Replaces the framework's default body."""

    error: ValidationErrorInfo


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details}}


def error_response(status: int, code: str, message: str, details: Any = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    if status == 503 and not any(k.lower() == "retry-after" for k in headers or {}):
        # Every 503 is temporary (busy, or a dependency down): say when to come back, so clients
        # back off instead of retrying at once.
        headers = {**(headers or {}), "Retry-After": "1"}
    return JSONResponse(error_body(code, message, details), status_code=status, headers=headers)


_STATUS_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
                 405: "method_not_allowed", 409: "conflict", 413: "payload_too_large",
                 415: "unsupported_media_type", 422: "validation_error", 429: "rate_limited"}


def _clean(errors: list[Any]) -> list[dict[str, Any]]:
    out = []
    for e in errors:
        out.append({"loc": [str(x) for x in e.get("loc", ())], "msg": str(e.get("msg", "")),
                    "type": str(e.get("type", ""))})
    return out


def _where(loc: Any) -> str:
    """`("body", "roles", 2, "requires", 0)` -> `roles[2].requires[0]` (list indexes in brackets)."""
    out = ""
    for x in loc or ():
        if x == "body":
            continue
        if isinstance(x, int):
            out += f"[{x}]"
        else:
            out += ("." if out else "") + str(x)
    return out or "request"


def _message(error: Any) -> str:
    """One line naming the broken field or entry, e.g. "roles[2].requires[0]: `budget` takes ..."."""
    where = _where(error.get("loc", ()))
    msg = str(error.get("msg", "invalid")).removeprefix("Value error, ")
    # A validator may already name a deeper entry ("roles[1]: duplicate role key"): keep its path.
    if msg.startswith((f"{where}[", f"{where}.")):
        return msg
    return f"{where}: {msg}"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        headers = None
        if isinstance(exc, TooManyRequests):
            # Whole seconds, rounded up: a client that waits that long gets a token.
            wait = float((exc.details or {}).get("retryAfterSeconds", 1))
            headers = {"Retry-After": str(max(1, math.ceil(wait)))}
        return error_response(exc.status, exc.code, exc.message, exc.details, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        raw = list(exc.errors())
        errs = _clean(raw)
        if any(e["type"] == "json_invalid" for e in errs):
            return error_response(400, "malformed_json", "The request body is not valid JSON.", errs)
        message = _message(raw[0]) if raw else "request: invalid"
        return error_response(422, "validation_error", message, errs)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _STATUS_CODES.get(exc.status_code, "error")
        return error_response(exc.status_code, code, str(exc.detail), None,
                              headers=dict(exc.headers or {}))

    @app.exception_handler(OperationalError)
    async def _db_down(_: Request, exc: OperationalError) -> JSONResponse:
        log.warning("database unavailable: %s", exc.__class__.__name__)
        return error_response(503, "unavailable", "The database is unavailable; try again shortly.")

    @app.exception_handler(PoolTimeout)
    async def _busy(_: Request, exc: PoolTimeout) -> JSONResponse:
        # Every pooled connection stayed busy for the pool timeout: the process is at capacity,
        # the same answer as a request shed at the door (overload.py).
        log.warning("database pool exhausted")
        return error_response(503, "overloaded", "The service is busy; try again shortly.",
                              {"retryAfterSeconds": 1}, headers={"Retry-After": "1"})

    @app.exception_handler(DBAPIError)
    async def _db_error(_: Request, exc: DBAPIError) -> JSONResponse:
        if exc.connection_invalidated:
            return error_response(503, "unavailable", "The database is unavailable; try again shortly.")
        log.exception("database error")
        return error_response(500, "internal", "Internal error.")

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return error_response(500, "internal", "Internal error.")
