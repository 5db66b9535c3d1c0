"""Dependencies of the console endpoints: the app's state and the signed-in staff member."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from talia_console.auth import TokenVerifier
from talia_console.config import SupabaseAuthSettings
from talia_console.erasure import Eraser
from talia_console.feed import FeedHub
from talia_console.service import ConsoleService
from talia_core.deps import app_state
from talia_core.errors import Forbidden, Unauthorized
from talia_core.repositories.agentes import Agente, AgentesRepository
from talia_core.repositories.webhooks import WebhooksRepository
from talia_core.webhooks import WebhookSettings


@dataclass(frozen=True)
class ConsoleState:
    """What the console lifespan opened."""

    tokens: TokenVerifier
    staff: AgentesRepository
    service: ConsoleService
    feed: FeedHub
    webhooks: WebhooksRepository
    webhook_settings: WebhookSettings
    eraser: Eraser
    supabase: SupabaseAuthSettings


get_state = app_state("console", ConsoleState)
State = Annotated[ConsoleState, Depends(get_state)]


class NotStaff(Forbidden):
    code = "not_staff"
    message = "You are signed in, but not as active staff of this business."


class AdminOnly(Forbidden):
    code = "admin_only"
    message = "Only an admin may do this."


@dataclass(frozen=True)
class SignedIn:
    """An active staff member and when their access token expires (Unix time)."""

    agente: Agente
    expires_at: int


async def require_signed_in(request: Request, state: State) -> SignedIn:
    """The active staff member the bearer token belongs to: 401 for a missing or bad
    token, 403 for a user who is not (or no longer) staff."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Send your access token as `Authorization: Bearer <token>`.")
    claims = await state.tokens.verify(token.strip())
    agente = await state.staff.active(claims.user_id)
    if agente is None:
        raise NotStaff
    return SignedIn(agente, claims.expires_at)


StaffSession = Annotated[SignedIn, Depends(require_signed_in)]


async def require_staff(session: StaffSession) -> Agente:
    """The signed-in active staff member (see `require_signed_in`)."""
    return session.agente


Staff = Annotated[Agente, Depends(require_staff)]


async def require_admin(agente: Staff) -> Agente:
    """The signed-in staff member, when an admin; else 403."""
    if agente.rol != "admin":
        raise AdminOnly
    return agente


Admin = Annotated[Agente, Depends(require_admin)]
