"""Supabase Auth access tokens, verified locally: signature, expiry, issuer and audience.

Projects on asymmetric keys publish them at `SUPABASE_URL/auth/v1/.well-known/jwks.json`;
they are cached, and fetched again when a token names a key id not seen yet (Supabase rotates
keys by publishing the new one first). A project still on the legacy shared secret signs with
HS256, verified with `SUPABASE_JWT_SECRET`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from typing import Any, Final
from uuid import UUID

import httpx
import jwt
import structlog

from talia_console.config import SupabaseAuthSettings
from talia_core.errors import ServiceUnavailable, Unauthorized

log = structlog.stdlib.get_logger("talia.console.auth")

AUDIENCE: Final = "authenticated"
# What Supabase Auth signs with: ES256 (its default), RS256, Ed25519; HS256 on the legacy secret.
ASYMMETRIC_ALGORITHMS: Final = frozenset({"ES256", "RS256", "EdDSA"})
LEGACY_ALGORITHM: Final = "HS256"


class InvalidToken(Unauthorized):
    code = "invalid_token"
    message = "The access token is not valid for this project."


class TokenExpired(Unauthorized):
    code = "token_expired"
    message = "The access token has expired; sign in again."


class AuthUnavailable(ServiceUnavailable):
    code = "auth_unavailable"
    message = "The project's signing keys cannot be fetched; try again shortly."


@dataclass(frozen=True)
class TokenClaims:
    """What the console takes from a verified token."""

    user_id: UUID
    email: str | None
    expires_at: int


class SigningKeys:
    """The project's public signing keys by key id, cached for `cache_seconds`."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        url: str,
        *,
        cache_seconds: float,
        min_refresh_seconds: float,
    ) -> None:
        self._client = client
        self._url = url
        self._cache_seconds = cache_seconds
        self._min_refresh_seconds = min_refresh_seconds
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at = -float("inf")
        self._lock = asyncio.Lock()

    async def get(self, kid: str) -> jwt.PyJWK:
        """The key `kid` names; InvalidToken when the project has no such key."""
        now = time.monotonic()
        if kid in self._keys and now - self._fetched_at < self._cache_seconds:
            return self._keys[kid]
        async with self._lock:  # one fetch for every request that waits on it
            if now - self._fetched_at >= self._min_refresh_seconds:
                await self._fetch()
        key = self._keys.get(kid)
        if key is None:
            raise InvalidToken("The access token is signed by a key this project does not have.")
        return key

    async def prefetch(self) -> None:
        """Fetch the keys now, if nobody has; a failure is only logged."""
        async with self._lock:
            if not self._keys:
                with contextlib.suppress(AuthUnavailable):
                    await self._fetch()

    async def _fetch(self) -> None:
        try:
            response = await self._client.get(self._url)
            response.raise_for_status()
            key_set = jwt.PyJWKSet.from_dict(response.json())
        except (httpx.HTTPError, ValueError, jwt.PyJWKSetError) as exc:
            log.warning("jwks_fetch_failed", error=type(exc).__name__)
            if not self._keys:
                raise AuthUnavailable from None
            return  # keep the keys we have until the project answers again
        self._keys = {key.key_id: key for key in key_set.keys if key.key_id}
        self._fetched_at = time.monotonic()


class TokenVerifier:
    """Verifies staff access tokens as Supabase Auth issues them."""

    def __init__(self, settings: SupabaseAuthSettings, keys: SigningKeys) -> None:
        self._settings = settings
        self._keys = keys

    async def verify(self, token: str) -> TokenClaims:
        """The token's claims; InvalidToken or TokenExpired when it must be refused."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise InvalidToken("The access token is malformed.") from None
        algorithm = header.get("alg")
        key = await self._key_for(algorithm, header.get("kid"))
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[str(algorithm)],
                audience=AUDIENCE,
                issuer=self._settings.issuer,
                leeway=self._settings.leeway_seconds,
                options={"require": ["exp", "sub", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise TokenExpired from None
        except jwt.InvalidTokenError as exc:
            raise InvalidToken(f"The access token is not valid: {_reason(exc)}.") from None
        try:
            user_id = UUID(str(claims["sub"]))
        except ValueError:
            raise InvalidToken("The access token names no user.") from None
        email = claims.get("email")
        return TokenClaims(
            user_id=user_id,
            email=email if isinstance(email, str) else None,
            expires_at=int(claims["exp"]),
        )

    async def _key_for(self, algorithm: object, kid: object) -> Any:
        if algorithm == LEGACY_ALGORITHM:
            secret = self._settings.jwt_secret
            if secret is None:
                raise InvalidToken("This project does not accept tokens signed with a secret.")
            return secret.get_secret_value()
        if algorithm not in ASYMMETRIC_ALGORITHMS or not isinstance(kid, str) or not kid:
            raise InvalidToken("The access token's signature algorithm is not accepted.")
        key = await self._keys.get(kid)
        if key.algorithm_name != algorithm:
            raise InvalidToken("The access token's algorithm does not match its key.")
        return key.key


# A short reason for the client, without echoing the token.
_REASONS: Final[dict[type[jwt.InvalidTokenError], str]] = {
    jwt.InvalidAudienceError: "it is not for signed-in users",
    jwt.InvalidIssuerError: "it was issued by another project",
    jwt.InvalidSignatureError: "its signature does not verify",
    jwt.ImmatureSignatureError: "it is not valid yet",
    jwt.MissingRequiredClaimError: "a required claim is missing",
}


def _reason(exc: jwt.InvalidTokenError) -> str:
    return next(
        (reason for kind, reason in _REASONS.items() if isinstance(exc, kind)),
        "it cannot be decoded",
    )
