"""Signed, expiring session tokens bound to one webchat conversation."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from uuid import UUID

from pydantic import SecretStr

from talia_core.errors import Unauthorized

_VERSION = "v1"


@dataclass(frozen=True)
class SessionClaims:
    """What a valid token says: whose conversation, until when (Unix seconds)."""

    conversacion_id: UUID
    expires_at: int


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SessionTokens:
    """Issues and checks `v1.<claims>.<HMAC-SHA256>` tokens."""

    def __init__(self, secret: SecretStr, *, ttl_seconds: int) -> None:
        self._key = hashlib.sha256(
            b"talia-webchat-session:" + secret.get_secret_value().encode()
        ).digest()
        self._ttl = ttl_seconds

    def issue(
        self, conversacion_id: UUID, *, now: float | None = None
    ) -> tuple[str, SessionClaims]:
        """A token for the conversation and its claims."""
        claims = SessionClaims(
            conversacion_id, int(time.time() if now is None else now) + self._ttl
        )
        body = _b64(
            json.dumps({"cid": str(claims.conversacion_id), "exp": claims.expires_at}).encode()
        )
        return f"{_VERSION}.{body}.{self._sign(body)}", claims

    def verify(self, token: str, *, now: float | None = None) -> SessionClaims:
        """The claims of a genuine, unexpired token; `Unauthorized` otherwise."""
        if not token.isascii():  # hmac.compare_digest cannot even compare it
            raise Unauthorized("The session token is not valid.")
        version, _, rest = token.partition(".")
        body, _, signature = rest.partition(".")
        if version != _VERSION or not body or not hmac.compare_digest(signature, self._sign(body)):
            raise Unauthorized("The session token is not valid.")
        try:
            payload = json.loads(_unb64(body))
            claims = SessionClaims(UUID(payload["cid"]), int(payload["exp"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise Unauthorized("The session token is not valid.") from exc
        if claims.expires_at <= (time.time() if now is None else now):
            raise Unauthorized("The session has expired; start a new one.", code="session_expired")
        return claims

    def _sign(self, body: str) -> str:
        return _b64(hmac.new(self._key, body.encode(), hashlib.sha256).digest())
