"""A fake Supabase Auth (GoTrue) at `SUPABASE_URL`: JWKS, password and refresh-token grants,
`/user` and `/logout` under /auth/v1, behind the gateway's `apikey` check. ES256 tokens with
Supabase's claims; `rotate_key()`, `requests_for(path)`, and test tokens from `issue_token()`
(expired, forged, wrong issuer or audience) and `legacy_hs256_token()` (legacy JWT secret).
"""

from __future__ import annotations

import base64
import json
import secrets
import string
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID, uuid4

import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from talia_testkit.server import serve_app

AUTH = "/auth/v1"
JWKS_PATH = AUTH + "/.well-known/jwks.json"
AUDIENCE = "authenticated"
API_VERSION_HEADER = "X-Supabase-Api-Version"
_REFRESH_ALPHABET = string.ascii_lowercase + string.digits


def _now_iso() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _b64url_int(value: int) -> str:
    return base64.urlsafe_b64encode(value.to_bytes(32, "big")).rstrip(b"=").decode()


@dataclass
class User:
    """A user of the fake; `app_metadata` and `user_metadata` also go into its tokens."""

    id: UUID
    email: str
    password: str = ""
    app_metadata: dict[str, Any] = field(default_factory=dict)
    user_metadata: dict[str, Any] = field(default_factory=dict)
    created_at: str = field(default_factory=_now_iso)
    last_sign_in_at: str | None = None

    def as_json(self) -> dict[str, Any]:
        """The user object of `/user` and of a session."""
        found: dict[str, Any] = {
            "id": str(self.id),
            "aud": AUDIENCE,
            "role": "authenticated",
            "email": self.email,
            "email_confirmed_at": self.created_at,
            "phone": "",
            "confirmed_at": self.created_at,
            "app_metadata": self.app_metadata,
            "user_metadata": self.user_metadata,
            "identities": [],
            "created_at": self.created_at,
            "updated_at": self.last_sign_in_at or self.created_at,
            "is_anonymous": False,
        }
        if self.last_sign_in_at is not None:
            found["last_sign_in_at"] = self.last_sign_in_at
        return found

    def claims(self, session_id: str, issuer: str, audience: str, seconds: int) -> dict[str, Any]:
        """Access-token claims, in the order GoTrue writes them."""
        now = int(time.time())
        return {
            "iss": issuer,
            "sub": str(self.id),
            "aud": audience,
            "exp": now + seconds,
            "iat": now,
            "email": self.email,
            "phone": "",
            "app_metadata": self.app_metadata,
            "user_metadata": self.user_metadata,
            "role": "authenticated",
            "aal": "aal1",
            "amr": [{"method": "password", "timestamp": now}],
            "session_id": session_id,
            "is_anonymous": False,
        }


def legacy_hs256_token(
    secret: str,
    user_id: UUID,
    *,
    issuer: str,
    audience: str = AUDIENCE,
    expires_in: int = 3600,
    email: str = "",
    kid: str | None = None,
) -> str:
    """An access token signed HS256 with a project's legacy JWT secret (in no JWKS)."""
    user = User(user_id, email, app_metadata={"provider": "email", "providers": ["email"]})
    claims = user.claims(str(uuid4()), issuer, audience, expires_in)
    headers = {"typ": "JWT"} if kid is None else {"kid": kid, "typ": "JWT"}
    return jwt.encode(claims, secret, algorithm="HS256", headers=headers)


@dataclass(frozen=True)
class SigningKey:
    """An ES256 (P-256) key pair and its `kid`."""

    kid: str = field(default_factory=lambda: str(uuid4()))
    private_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1()), repr=False
    )

    def public_jwk(self) -> dict[str, Any]:
        """The public key as GoTrue publishes it."""
        numbers = self.private_key.public_key().public_numbers()
        return {
            "alg": "ES256",
            "crv": "P-256",
            "key_ops": ["verify"],
            "kid": self.kid,
            "kty": "EC",
            "use": "sig",
            "x": _b64url_int(numbers.x),
            "y": _b64url_int(numbers.y),
        }

    def sign(self, claims: dict[str, Any], kid: str | None = None) -> str:
        headers = {"kid": kid or self.kid, "typ": "JWT"}
        return jwt.encode(claims, self.private_key, algorithm="ES256", headers=headers)


@dataclass
class FakeSupabaseAuth:
    """The fake's state and ASGI app; `base_url` (the `SUPABASE_URL`) is set while it serves."""

    anon_key: str = field(default_factory=lambda: "sb_publishable_" + secrets.token_urlsafe(24))
    token_seconds: int = 3600
    base_url: str = ""
    keys: list[SigningKey] = field(default_factory=lambda: [SigningKey()])  # last one signs
    users: dict[UUID, User] = field(default_factory=dict)
    _unknown_key: SigningKey = field(default_factory=SigningKey)
    _sessions: dict[str, UUID] = field(default_factory=dict)  # session_id -> user
    _refresh: dict[str, str] = field(default_factory=dict)  # live token -> session_id
    _spent: dict[str, str] = field(default_factory=dict)  # used token -> session_id
    _hits: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        router = Starlette(
            routes=[
                Route(JWKS_PATH, self._jwks, methods=["GET"]),
                Route(AUTH + "/token", self._token, methods=["POST"]),
                Route(AUTH + "/user", self._user, methods=["GET"]),
                Route(AUTH + "/logout", self._logout, methods=["POST"]),
            ],
            # Pages on other origins call Supabase Auth from the browser, as the console's does.
            middleware=[
                Middleware(
                    CORSMiddleware,
                    allow_origins=["*"],
                    allow_methods=["GET", "POST"],
                    allow_headers=["apikey", "authorization", "content-type", "x-client-info"],
                )
            ],
        )

        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http":  # counted for `requests_for`
                with self._lock:
                    self._hits[scope["path"]] += 1
            await router(scope, receive, send)

        self.app = app  # a plain function, so uvicorn takes it for ASGI 3

    @property
    def issuer(self) -> str:
        """The `iss` of the fake's access tokens."""
        return self.base_url + AUTH

    def requests_for(self, path: str) -> int:
        """How many requests reached `path` (e.g. `JWKS_PATH`)."""
        with self._lock:
            return self._hits[path]

    def add_user(
        self,
        email: str,
        password: str,
        *,
        user_id: UUID | None = None,
        app_metadata: dict[str, Any] | None = None,
        user_metadata: dict[str, Any] | None = None,
    ) -> UUID:
        """Register a confirmed email user; returns its id."""
        app = {"provider": "email", "providers": ["email"], **(app_metadata or {})}
        user = User(user_id or uuid4(), email.lower(), password, app, dict(user_metadata or {}))
        with self._lock:
            self.users[user.id] = user
        return user.id

    def rotate_key(self) -> str:
        """Sign with a new key from now on; earlier keys stay in the JWKS. Returns its kid."""
        key = SigningKey()
        with self._lock:
            self.keys.append(key)
        return key.kid

    def issue_token(
        self,
        user_id: UUID,
        *,
        expires_in: int | None = None,
        issuer: str | None = None,
        audience: str | None = None,
        signed_by_unknown_key: bool = False,
        kid: str | None = None,
        email: str | None = None,
    ) -> str:
        """An access token for a new session of `user_id` (known or not), with overrides.

        `expires_in` <= 0 gives an expired token; `signed_by_unknown_key` signs with a key
        absent from the JWKS while the header names `kid` (default: the current key's).
        """
        session_id = str(uuid4())
        with self._lock:
            user = self.users.get(user_id) or User(user_id, "")
            signer = self._unknown_key if signed_by_unknown_key else self.keys[-1]
            kid = kid or self.keys[-1].kid
            self._sessions[session_id] = user_id
        claims = user.claims(
            session_id,
            self.issuer if issuer is None else issuer,
            AUDIENCE if audience is None else audience,
            self.token_seconds if expires_in is None else expires_in,
        )
        if email is not None:
            claims["email"] = email
        return signer.sign(claims, kid)

    def _session(self, user: User, session_id: str) -> dict[str, Any]:
        refresh_token = "".join(secrets.choice(_REFRESH_ALPHABET) for _ in range(12))
        with self._lock:
            self._sessions[session_id] = user.id
            self._refresh[refresh_token] = session_id
            key = self.keys[-1]
        claims = user.claims(session_id, self.issuer, AUDIENCE, self.token_seconds)
        return {
            "access_token": key.sign(claims),
            "token_type": "bearer",
            "expires_in": self.token_seconds,
            "expires_at": claims["exp"],
            "refresh_token": refresh_token,
            "user": user.as_json(),
        }

    def _end_sessions(self, session_ids: set[str]) -> None:
        """Delete sessions and their refresh tokens, as GoTrue's cascade does (lock held)."""
        for session_id in session_ids:
            self._sessions.pop(session_id, None)
        for tokens in (self._refresh, self._spent):
            for token in [t for t, s in tokens.items() if s in session_ids]:
                del tokens[token]

    @staticmethod
    def _error(request: Request, status: int, code: str, msg: str) -> JSONResponse:
        """GoTrue's error body; its 2024-01-01 shape when the client asks for that version."""
        try:
            asked = date.fromisoformat(request.headers.get(API_VERSION_HEADER, ""))
        except ValueError:
            asked = date.min
        if asked < date(2024, 1, 1):
            body: dict[str, Any] = {"code": status, "error_code": code, "msg": msg}
            return JSONResponse(body, status_code=status)
        headers = {API_VERSION_HEADER: "2024-01-01"}
        return JSONResponse({"code": code, "message": msg}, status_code=status, headers=headers)

    def _gateway(self, request: Request) -> Response | None:
        """The API gateway's key check, in the gateway's error shape (not GoTrue's)."""
        key = request.headers.get("apikey") or request.query_params.get("apikey")
        if not key:
            message, hint = "No API key found in request", "No `apikey` request header or url"
            hint += " param was found."
        elif not secrets.compare_digest(key.encode(), self.anon_key.encode()):
            message, hint = "Invalid API key", "Double check your Supabase `anon` or"
            hint += " `service_role` API key."
        else:
            return None
        return JSONResponse({"message": message, "hint": hint}, status_code=401)

    async def _jwks(self, request: Request) -> Response:
        with self._lock:
            keys = [key.public_jwk() for key in self.keys]
        return JSONResponse({"keys": keys}, headers={"Cache-Control": "public, max-age=600"})

    async def _token(self, request: Request) -> Response:
        if (refused := self._gateway(request)) is not None:
            return refused
        grant_type = request.query_params.get("grant_type")
        if grant_type not in ("password", "refresh_token"):
            return self._error(request, 400, "invalid_credentials", "unsupported_grant_type")
        try:
            body = json.loads(await request.body())
            if not isinstance(body, dict):
                raise ValueError(f"expected an object, got {type(body).__name__}")
        except ValueError as exc:
            msg = f"Could not parse request body as JSON: {exc}"
            return self._error(request, 400, "bad_json", msg)
        if grant_type == "password":
            return self._password_grant(request, body)
        return self._refresh_grant(request, str(body.get("refresh_token") or ""))

    def _password_grant(self, request: Request, body: dict[str, Any]) -> Response:
        email = str(body.get("email") or "").lower()
        if not email:
            return self._error(request, 400, "validation_failed", "missing email or phone")
        password = str(body.get("password") or "")
        with self._lock:
            user = next((u for u in self.users.values() if u.email == email), None)
            valid = user is not None and secrets.compare_digest(
                user.password.encode(), password.encode()
            )
            if user is not None and valid:
                user.last_sign_in_at = _now_iso()
        if user is None or not valid:
            return self._error(request, 400, "invalid_credentials", "Invalid login credentials")
        return JSONResponse(self._session(user, str(uuid4())))

    def _refresh_grant(self, request: Request, token: str) -> Response:
        if len(token) < 12:
            return self._error(request, 400, "validation_failed", "Refresh token is not valid")
        user: User | None = None
        with self._lock:
            reused = self._spent.get(token)
            if reused is not None:  # reuse detected: GoTrue ends the whole session
                self._end_sessions({reused})
            session_id = self._refresh.pop(token, None)
            if session_id is not None:
                self._spent[token] = session_id
                user = self.users.get(self._sessions[session_id])
        if reused is not None:
            msg = "Invalid Refresh Token: Already Used"
            return self._error(request, 400, "refresh_token_already_used", msg)
        if session_id is None or user is None:
            msg = "Invalid Refresh Token: Refresh Token Not Found"
            return self._error(request, 400, "refresh_token_not_found", msg)
        return JSONResponse(self._session(user, session_id))

    def _authenticate(self, request: Request) -> User | Response:
        """The gateway check, then GoTrue's: a valid Bearer token of a live session."""
        if (refused := self._gateway(request)) is not None:
            return refused
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token or " " in token:
            msg = "This endpoint requires a valid Bearer token"
            return self._error(request, 401, "no_authorization", msg)
        with self._lock:
            public = {k.kid: k.private_key.public_key() for k in self.keys}
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            if kid not in public:
                raise jwt.InvalidKeyError(f"unknown kid {kid!r}")
            claims = jwt.decode(
                token, public[kid], algorithms=["ES256"], options={"verify_aud": False}
            )
            user_id = UUID(str(claims.get("sub")))
        except (jwt.PyJWTError, ValueError) as exc:
            msg = f"invalid JWT: unable to parse or verify signature, {exc}"
            return self._error(request, 403, "bad_jwt", msg)
        session_id = str(claims.get("session_id"))
        with self._lock:
            user = self.users.get(user_id)
            live = self._sessions.get(session_id) == user_id
        if user is None:
            msg = "User from sub claim in JWT does not exist"
            return self._error(request, 403, "user_not_found", msg)
        if not live:
            msg = "Session from session_id claim in JWT does not exist"
            return self._error(request, 403, "session_not_found", msg)
        return user

    async def _user(self, request: Request) -> Response:
        found = self._authenticate(request)
        return found if isinstance(found, Response) else JSONResponse(found.as_json())

    async def _logout(self, request: Request) -> Response:
        found = self._authenticate(request)
        if isinstance(found, Response):
            return found
        with self._lock:  # GoTrue's default scope, "global": every session of the user
            self._end_sessions({s for s, u in self._sessions.items() if u == found.id})
        return Response(status_code=204)


@contextmanager
def run_fake_supabase_auth(
    *, anon_key: str | None = None, token_seconds: int = 3600
) -> Iterator[FakeSupabaseAuth]:
    """Serve a fake Supabase Auth on an ephemeral localhost port until the block ends."""
    fake = FakeSupabaseAuth(token_seconds=token_seconds)
    if anon_key is not None:
        fake.anon_key = anon_key
    with serve_app(fake.app) as server:
        fake.base_url = server.http_url
        yield fake
