"""Twilio request signatures, checked with twilio's own `RequestValidator`.

The app sits behind a TLS-terminating proxy, so the URL Twilio signed is rebuilt from
`TALIA_PUBLIC_BASE_URL` plus the request's raw path and query, never from the Host header.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Iterator, Sequence
from typing import Annotated, Final
from urllib.parse import parse_qsl, urlparse

from fastapi import Depends, Request
from pydantic import SecretStr
from twilio.request_validator import RequestValidator, add_port, remove_port

from talia_core.errors import (
    BadRequest,
    InvalidSignature,
    PayloadTooLarge,
    ServiceUnavailable,
    UnsupportedMediaType,
)

SIGNATURE_HEADER: Final = "X-Twilio-Signature"
# A Twilio form carries a few dozen fields and a few kilobytes (a 4,096-character WhatsApp
# text percent-encoded is under 50 KB); more than this is not a Twilio request.
MAX_FORM_FIELDS: Final = 1000
MAX_FORM_BYTES: Final = 256 * 1024

TwilioForm = dict[str, str]
"""A webhook's form fields; Twilio's forms are url-encoded, so every value is text.

A name sent twice keeps its last value here; the signature was checked over all of them.
A plain `dict` because each webhook reads a dozen fields, most of them absent: a
`Mapping`'s `get` raises and catches a `KeyError` for each absent one.
"""


class _MultiParams:
    """Form parameters as twilio's validator reads them (`getall`), repeats kept."""

    def __init__(self, items: Iterable[tuple[str, str]]) -> None:
        self._values: dict[str, list[str]] = {}
        for name, value in items:
            self._values.setdefault(name, []).append(value)

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __bool__(self) -> bool:
        return bool(self._values)

    def getall(self, name: str) -> list[str]:
        return self._values[name]


class TwilioSignatureVerifier:
    """Checks `X-Twilio-Signature` for form posts, JSON bodies and WebSocket upgrades."""

    def __init__(self, *, auth_token: SecretStr, public_base_url: str) -> None:
        self._validator = RequestValidator(auth_token.get_secret_value())
        self._origin = public_base_url.rstrip("/")
        # Twilio signs the URL with or without the scheme's default port (messaging keeps it,
        # voice drops it); its validator computes both on every request. The origin is fixed,
        # so both forms are worked out once, and the one that matched last is tried first.
        parsed = urlparse(self._origin)
        self._signed_origins = list(dict.fromkeys((remove_port(parsed), add_port(parsed))))

    def public_url(self, path: str, query: str = "") -> str:
        """The URL Twilio called: public origin + raw path (+ `?query`), nothing added."""
        return f"{self._origin}{path}{'?' + query if query else ''}"

    def websocket_url(self, path: str) -> str:
        """The `wss://` URL Twilio signs when it opens a Media Stream."""
        origin = self._origin.replace("https://", "wss://", 1).replace("http://", "ws://", 1)
        return f"{origin}{path}"

    def is_valid_form(
        self,
        *,
        path: str,
        query: str,
        params: Sequence[tuple[str, str]],
        signature: str | None,
    ) -> bool:
        """A form-encoded webhook: URL plus every POST parameter."""
        if not signature:
            return False
        signed = _MultiParams(params)
        target = f"{path}{'?' + query if query else ''}"
        expected = signature.encode()
        for index, origin in enumerate(self._signed_origins):
            computed = self._validator.compute_signature(origin + target, signed)
            if hmac.compare_digest(computed.encode(), expected):
                if index:
                    self._signed_origins.insert(0, self._signed_origins.pop(index))
                return True
        return False

    def is_valid_json(self, *, path: str, query: str, body: bytes, signature: str | None) -> bool:
        """A JSON webhook: the URL carries `bodySHA256`, which must match the raw body."""
        if not signature or "bodySHA256=" not in query:
            return False
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return False
        return bool(self._validator.validate(self.public_url(path, query), text, signature))

    def is_valid_websocket(self, *, path: str, signature: str | None) -> bool:
        """A Media Streams upgrade: the `wss://` URL alone, without parameters."""
        if not signature:
            return False
        return bool(self._validator.validate(self.websocket_url(path), {}, signature))


def _raw_query(request: Request) -> str:
    return bytes(request.scope.get("query_string", b"")).decode("latin-1")


def _raw_path(request: Request) -> str:
    """The path as Twilio sent it, still percent-encoded."""
    raw = request.scope.get("raw_path")
    return bytes(raw).decode("latin-1") if raw else request.url.path


def signature_verifier(request: Request) -> TwilioSignatureVerifier:
    """The verifier the app put on its state; the app is misconfigured without one."""
    verifier = getattr(request.app.state, "twilio_signature_verifier", None)
    if not isinstance(verifier, TwilioSignatureVerifier):
        raise ServiceUnavailable("Twilio signature checking is not configured.")
    return verifier


async def _body_within(request: Request, limit: int) -> bytes:
    """The request body, refused with a 413 as soon as it is known to exceed `limit`."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"The body is over {limit} bytes.")


def parse_form(body: bytes) -> list[tuple[str, str]]:
    """A `application/x-www-form-urlencoded` body as its (name, value) pairs, repeats kept."""
    try:
        return parse_qsl(
            body.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS
        )
    except UnicodeDecodeError as exc:
        raise BadRequest("The form body is not UTF-8.") from exc
    except ValueError as exc:  # more fields than MAX_FORM_FIELDS
        raise BadRequest("The form body has too many fields.") from exc


async def signed_twilio_form(request: Request) -> TwilioForm:
    """Dependency: the webhook's form, only when its signature holds (403 otherwise)."""
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("application/x-www-form-urlencoded"):
        raise UnsupportedMediaType("Twilio webhooks are form-encoded.")
    params = parse_form(await _body_within(request, MAX_FORM_BYTES))
    if not signature_verifier(request).is_valid_form(
        path=_raw_path(request),
        query=_raw_query(request),
        params=params,
        signature=request.headers.get(SIGNATURE_HEADER),
    ):
        raise InvalidSignature
    return dict(params)


async def signed_twilio_json(request: Request) -> bytes:
    """Dependency: the raw JSON body, only when its `bodySHA256` signature holds."""
    body = await request.body()
    if not signature_verifier(request).is_valid_json(
        path=_raw_path(request),
        query=_raw_query(request),
        body=body,
        signature=request.headers.get(SIGNATURE_HEADER),
    ):
        raise InvalidSignature
    return body


SignedTwilioForm = Annotated[TwilioForm, Depends(signed_twilio_form)]
SignedTwilioJson = Annotated[bytes, Depends(signed_twilio_json)]
