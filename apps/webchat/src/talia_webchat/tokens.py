"""Signed, expiring session tokens bound to one webchat conversation (itsdangerous)."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Final
from uuid import UUID

from itsdangerous import BadData, URLSafeSerializer
from pydantic import SecretStr

from talia_core.errors import Unauthorized

# Part of what is signed: a token of another purpose, or of the earlier hand-made format,
# never verifies as a session token.
_SALT: Final = "talia-webchat-session-v2"


@dataclass(frozen=True)
class SessionClaims:
    """What a valid token says: whose conversation, until when (Unix seconds)."""

    conversacion_id: UUID
    expires_at: int


class SessionTokens:
    """Issues and checks `<claims>.<HMAC-SHA256 of the claims>` tokens (keyed by the secret
    and the salt)."""

    def __init__(self, secret: SecretStr, *, ttl_seconds: int) -> None:
        self._serializer = URLSafeSerializer(
            secret.get_secret_value(), salt=_SALT, signer_kwargs={"digest_method": hashlib.sha256}
        )
        self._ttl = ttl_seconds

    def issue(
        self, conversacion_id: UUID, *, now: float | None = None
    ) -> tuple[str, SessionClaims]:
        """A token for the conversation and its claims."""
        claims = SessionClaims(
            conversacion_id, int(time.time() if now is None else now) + self._ttl
        )
        token = self._serializer.dumps(
            {"cid": str(claims.conversacion_id), "exp": claims.expires_at}
        )
        return token, claims

    def verify(self, token: str, *, now: float | None = None) -> SessionClaims:
        """The claims of a genuine, unexpired token; `Unauthorized` otherwise."""
        try:
            payload = self._serializer.loads(token)
            claims = SessionClaims(UUID(payload["cid"]), int(payload["exp"]))
        except (BadData, ValueError, KeyError, TypeError, UnicodeError) as exc:
            raise Unauthorized("The session token is not valid.") from exc
        if claims.expires_at <= (time.time() if now is None else now):
            raise Unauthorized("The session has expired; start a new one.", code="session_expired")
        return claims
