"""The error tree: every error a client may see carries its code, message and status."""

from __future__ import annotations

from collections.abc import Mapping


class TaliaError(Exception):
    """Base of every error answered to a client as `{"error": {"code", "message"}}`."""

    code: str = "internal_error"
    status_code: int = 500
    message: str = "Something went wrong on our side."

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.message = message or type(self).message
        self.code = code or type(self).code
        self.headers = dict(headers or {})
        super().__init__(self.message)


class BadRequest(TaliaError):
    code = "bad_request"
    status_code = 400
    message = "The request is malformed."


class Unauthorized(TaliaError):
    code = "unauthorized"
    status_code = 401
    message = "Missing or invalid credentials."


class Forbidden(TaliaError):
    code = "forbidden"
    status_code = 403
    message = "Not allowed."


class InvalidSignature(Forbidden):
    code = "invalid_signature"
    message = "The X-Twilio-Signature header is missing or does not match the request."


class NotFound(TaliaError):
    code = "not_found"
    status_code = 404
    message = "Not found."


class Conflict(TaliaError):
    code = "conflict"
    status_code = 409
    message = "The request conflicts with the current state."


class PayloadTooLarge(TaliaError):
    code = "payload_too_large"
    status_code = 413
    message = "The request body is too large."


class UnsupportedMediaType(TaliaError):
    code = "unsupported_media_type"
    status_code = 415
    message = "The request's content type is not supported here."


class RateLimited(TaliaError):
    code = "rate_limited"
    status_code = 429
    message = "Too many requests; retry later."

    def __init__(self, retry_after_seconds: int, message: str | None = None) -> None:
        super().__init__(message, headers={"Retry-After": str(max(1, retry_after_seconds))})
        self.retry_after_seconds = retry_after_seconds


class ServiceUnavailable(TaliaError):
    code = "service_unavailable"
    status_code = 503
    message = "The service is temporarily unavailable."


class DatabaseUnavailable(ServiceUnavailable):
    code = "database_unavailable"
    message = "The database does not answer."


class ShuttingDown(ServiceUnavailable):
    code = "shutting_down"
    message = "The service is shutting down and takes no new work."
