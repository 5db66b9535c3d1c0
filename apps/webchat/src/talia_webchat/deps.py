"""Dependencies of the webchat endpoints, as `Annotated` aliases."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from talia_core.errors import Forbidden, Unauthorized
from talia_webchat.config import Settings
from talia_webchat.service import WebchatService
from talia_webchat.tokens import SessionClaims, SessionTokens


@dataclass(frozen=True)
class WebchatState:
    """What the webchat lifespan opened."""

    settings: Settings
    service: WebchatService
    tokens: SessionTokens


def get_state(request: Request) -> WebchatState:
    """The webchat state the lifespan put on the app."""
    state = getattr(request.app.state, "webchat", None)
    if not isinstance(state, WebchatState):
        raise RuntimeError("the webchat lifespan has not run")
    return state


State = Annotated[WebchatState, Depends(get_state)]


def require_allowed_origin(request: Request, state: State) -> str:
    """The request's Origin, when it is one the business allowed."""
    origin = (request.headers.get("origin") or "").rstrip("/")
    if origin not in state.settings.webchat.allowed_origins:
        raise Forbidden("This site may not open webchat sessions.", code="origin_not_allowed")
    return origin


def require_session(request: Request, state: State) -> SessionClaims:
    """The claims of the bearer session token; 401 when missing, forged or expired."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("Send the session token as `Authorization: Bearer <token>`.")
    return state.tokens.verify(token.strip())


AllowedOrigin = Annotated[str, Depends(require_allowed_origin)]
Session = Annotated[SessionClaims, Depends(require_session)]
