"""Every error leaves as `{"error": {"code", "message"}}`; tracebacks stay in the logs."""

from __future__ import annotations

from http import HTTPStatus

import psycopg
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from talia_core.db import is_unreachable
from talia_core.errors import DatabaseUnavailable, TaliaError

log = structlog.stdlib.get_logger("talia.errors")


def error_response(
    status_code: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    """The one error body of SPEC."""
    return JSONResponse(
        {"error": {"code": code, "message": message}}, status_code=status_code, headers=headers
    )


def _code_for(status_code: int) -> str:
    try:
        return HTTPStatus(status_code).phrase.lower().replace(" ", "_").replace("-", "_")
    except ValueError:
        return "http_error"


async def _on_talia_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, TaliaError)
    if exc.status_code >= 500:
        log.warning("request_failed", code=exc.code, status=exc.status_code)
    return error_response(exc.status_code, exc.code, exc.message, exc.headers)


async def _on_http_exception(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    message = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    return error_response(
        exc.status_code, _code_for(exc.status_code), message, dict(exc.headers or {})
    )


async def _on_validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    # Field locations and reasons only: the rejected values may be personal data.
    problems = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error.get("loc", ()) if part != "body")
        problems.append(f"{where or 'body'}: {error.get('msg', 'invalid')}")
    message = "Invalid request: " + "; ".join(problems)
    return error_response(422, "validation_error", message)


async def _on_database_error(request: Request, exc: Exception) -> JSONResponse:
    if not is_unreachable(exc):
        return await _on_unexpected(request, exc)
    # Retry-After tells Twilio and well-behaved clients to come back; the message is ours,
    # never the driver's, which may name hosts or quote values.
    return await _on_talia_error(request, DatabaseUnavailable(headers={"Retry-After": "1"}))


async def _on_unexpected(_request: Request, exc: Exception) -> JSONResponse:
    log.error("request_crashed", error_type=type(exc).__name__, exc_info=exc)
    return error_response(500, "internal_error", "Something went wrong on our side.")


def install_exception_handlers(app: FastAPI) -> None:
    """Register the SPEC error shape for our errors, HTTP errors, validation, an unreachable
    database (503) and crashes."""
    app.add_exception_handler(TaliaError, _on_talia_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_exception)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(psycopg.OperationalError, _on_database_error)
    app.add_exception_handler(Exception, _on_unexpected)
