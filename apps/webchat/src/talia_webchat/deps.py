"""Dependencies of the webchat endpoints, as `Annotated` aliases."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Annotated
from uuid import UUID

from fastapi import Depends, Request

from talia_core.changes import ChangeFeed
from talia_core.deps import app_state
from talia_core.errors import Forbidden, Unauthorized
from talia_webchat.config import Settings
from talia_webchat.limits import RateLimiter
from talia_webchat.live import LiveReplies
from talia_webchat.service import WebchatService
from talia_webchat.tokens import SessionClaims, SessionTokens


@dataclass(frozen=True)
class Limits:
    """The rate limiters of this process."""

    session_messages: RateLimiter
    ip_requests: RateLimiter
    ip_sessions: RateLimiter

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        webchat = settings.webchat
        return cls(
            session_messages=RateLimiter(per_minute=webchat.session_messages_per_minute),
            ip_requests=RateLimiter(per_minute=webchat.ip_requests_per_minute),
            ip_sessions=RateLimiter(per_minute=webchat.ip_sessions_per_minute),
        )


@dataclass(frozen=True)
class WebchatState:
    """What the webchat lifespan opened."""

    settings: Settings
    service: WebchatService
    tokens: SessionTokens
    limits: Limits
    changes: ChangeFeed
    live: LiveReplies = field(default_factory=LiveReplies)
    open_sockets: Counter[UUID] = field(default_factory=Counter)


get_state = app_state("webchat", WebchatState)
State = Annotated[WebchatState, Depends(get_state)]


def _client_ip(request: Request) -> str:
    # Behind the proxy, uvicorn's --proxy-headers has already put the real client here.
    return request.client.host if request.client else "unknown"


async def limit_ip(request: Request, state: State) -> None:
    """429 when one IP sends too many requests."""
    state.limits.ip_requests.check(_client_ip(request))


async def require_allowed_origin(request: Request, state: State) -> str:
    """The request's Origin, when it is one the business allowed; new sessions are limited."""
    origin = (request.headers.get("origin") or "").rstrip("/")
    if origin not in state.settings.webchat.allowed_origins:
        raise Forbidden("This site may not open webchat sessions.", code="origin_not_allowed")
    state.limits.ip_sessions.check(_client_ip(request))
    return origin


async def require_session(request: Request, state: State) -> SessionClaims:
    """The claims of the bearer session token; 401 when missing, forged or expired."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("Send the session token as `Authorization: Bearer <token>`.")
    return state.tokens.verify(token.strip())


async def limit_session_messages(
    session: Annotated[SessionClaims, Depends(require_session)], state: State
) -> None:
    """429 when one session sends too many messages."""
    state.limits.session_messages.check(str(session.conversacion_id))


AllowedOrigin = Annotated[str, Depends(require_allowed_origin)]
Session = Annotated[SessionClaims, Depends(require_session)]
