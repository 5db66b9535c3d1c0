"""What the OpenAPI documents say besides the routes' own types: our error body, the
statuses an endpoint answers, and the form-encoded bodies Twilio signs.

The documents are served only when TALIA_API_DOCS is on (`talia dev` turns it on).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final, TypeVar

from fastapi import APIRouter, Response
from pydantic import BaseModel

from talia_core.security import SIGNATURE_HEADER


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorBody(BaseModel):
    """Every error answer: `{"error": {"code", "message"}}`."""

    error: ErrorDetail


_MEANINGS: Final = {
    400: "The request is malformed.",
    401: "Missing or invalid credentials.",
    403: "Not allowed (a bad signature, or an origin that is not listed).",
    404: "Not found.",
    409: "The request conflicts with the current state.",
    413: "The body (or a text in it) is too large.",
    415: "The content type is not the one this endpoint reads.",
    422: "The body or a parameter does not validate.",
    429: "Too many requests; Retry-After says when to come back.",
    503: "The database does not answer, or the app is shutting down; retry later.",
}

Responses = dict[int | str, dict[str, Any]]
Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])


def errors(*statuses: int) -> Responses:
    """`responses=` entries for these statuses, each with our error body."""
    return {status: {"model": ErrorBody, "description": _MEANINGS[status]} for status in statuses}


# What every channel endpoint may answer: a body over the limit, an unreachable database.
EVERY_ENDPOINT: Final = errors(413, 503)

# A signed Twilio webhook: a form it cannot read, a bad signature, the wrong content type.
TWILIO_WEBHOOK: Final = errors(400, 403, 415)


def twilio_webhook(
    router: APIRouter,
    path: str,
    *,
    fields: Mapping[str, str],
    required: Iterable[str],
    twiml: bool = False,
    status_code: int = 200,
) -> Callable[[Endpoint], Endpoint]:
    """`router.post` for a signed Twilio webhook, documented with its form and statuses."""
    return router.post(
        path,
        status_code=status_code,
        response_class=Response,
        responses=TWILIO_WEBHOOK,
        openapi_extra=twilio_form(fields, required=required, twiml=twiml),
    )


def twilio_form(
    fields: Mapping[str, str], *, required: Iterable[str], twiml: bool = False
) -> dict[str, Any]:
    """`openapi_extra` for a signed Twilio webhook: the form fields read, the signature
    header, and (`twiml`) a TwiML answer. Twilio sends more fields than these; they are
    signed and ignored."""
    extra: dict[str, Any] = {
        "parameters": [
            {
                "name": SIGNATURE_HEADER,
                "in": "header",
                "required": True,
                "schema": {"type": "string"},
                "description": "Twilio's signature of the public URL and the form.",
            }
        ],
        "requestBody": {
            "required": True,
            "content": {
                "application/x-www-form-urlencoded": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            name: {"type": "string", "description": meaning}
                            for name, meaning in fields.items()
                        },
                        "required": list(required),
                        "additionalProperties": {"type": "string"},
                    }
                }
            },
        },
    }
    if twiml:
        extra["responses"] = {
            "200": {
                "description": "TwiML for Twilio.",
                "content": {"text/xml": {"schema": {"type": "string"}}},
            }
        }
    return extra
