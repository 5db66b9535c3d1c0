"""Console endpoints under `/api/console`: who I am, conversations, and what staff do."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Header, Query
from pydantic import BaseModel, ConfigDict, Field

from talia_console.cursors import decode_cursor, encode_cursor
from talia_console.deps import Staff, State
from talia_console.schemas import (
    ActionOut,
    AssignIn,
    ConversationDetail,
    ConversationPage,
    ConversationSummary,
    ReplyIn,
    ReplyOut,
    StaffOut,
)
from talia_core.errors import BadRequest
from talia_core.openapi import EVERY_ENDPOINT, errors
from talia_core.repositories.bandeja import FiltroBandeja
from talia_core.repositories.conversaciones import Canal, Estado
from talia_core.text import clean_text, is_identifier

router = APIRouter(prefix="/api/console", tags=["console"], responses=EVERY_ENDPOINT)
# The actions that take no body (assign names its agent; reply, its text).
Action = Literal["claim", "unassign", "release", "close", "reopen"]


@router.get("/me", responses=errors(401, 403))
async def me(agente: Staff) -> StaffOut:
    """The signed-in staff member."""
    return StaffOut(id=agente.auth_user_id, email=agente.email, name=agente.nombre, role=agente.rol)


class ListQuery(BaseModel):
    """The list's filters; `assigned` is `me`, `none` or a staff member's id."""

    model_config = ConfigDict(extra="forbid")

    state: Estado | None = None
    channel: Canal | None = None
    assigned: str | None = Field(default=None, max_length=36)
    q: str | None = Field(default=None, max_length=200)
    cursor: str | None = Field(default=None, max_length=200)

    def filter_for(self, agente_id: UUID) -> FiltroBandeja:
        holder: UUID | None = None
        if self.assigned == "me":
            holder = agente_id
        elif self.assigned not in (None, "none"):
            try:
                holder = UUID(self.assigned)
            except ValueError:
                raise BadRequest("`assigned` is me, none or a staff member's id.") from None
        return FiltroBandeja(
            estado=self.state,
            canal=self.channel,
            agente_id=holder,
            sin_agente=self.assigned == "none",
            texto=clean_text(self.q or "").strip() or None,
        )


@router.get("/conversations", responses=errors(400, 401, 403, 422))
async def list_conversations(
    query: Annotated[ListQuery, Query()], agente: Staff, state: State
) -> ConversationPage:
    """Conversations, newest activity first; in handoff, the longest waiting first."""
    after = decode_cursor(query.cursor) if query.cursor else None
    page = await state.service.page(agente, query.filter_for(agente.auth_user_id), after)
    now = datetime.now(UTC)
    return ConversationPage(
        conversations=[ConversationSummary.from_row(row, now) for row in page.rows],
        next_cursor=encode_cursor(page.next_position) if page.next_position else None,
    )


@router.get("/conversations/{conversation_id}", responses=errors(401, 403, 404, 422))
async def get_conversation(
    conversation_id: UUID, agente: Staff, state: State
) -> ConversationDetail:
    """One conversation with its contact, messages and events; marks it read."""
    detail = await state.service.open(agente, conversation_id)
    return ConversationDetail.from_detail(detail, datetime.now(UTC))


@router.post("/conversations/{conversation_id}/assign", responses=errors(400, 401, 403, 404, 409))
async def assign(conversation_id: UUID, body: AssignIn, agente: Staff, state: State) -> ActionOut:
    """Give the conversation to a staff member (admins only)."""
    moved = await state.service.act(agente, conversation_id, "assign", body.agent_id)
    return ActionOut.from_row(moved)


@router.post(
    "/conversations/{conversation_id}/reply",
    status_code=201,
    responses=errors(400, 401, 403, 404, 409, 413, 422),
)
async def reply(
    conversation_id: UUID,
    body: ReplyIn,
    agente: Staff,
    state: State,
    idempotency_key: Annotated[str | None, Header(max_length=100)] = None,
) -> ReplyOut:
    """Answer the customer as an agent, on their channel; the conversation becomes yours if
    nobody holds it. Send an `Idempotency-Key` to make a retry safe."""
    if idempotency_key is not None and not is_identifier(idempotency_key, max_chars=100):
        raise BadRequest("Idempotency-Key must be 1 to 100 printable characters.")
    # A key is the agent's own, for one conversation.
    key = f"{agente.auth_user_id}:{conversation_id}:{idempotency_key}" if idempotency_key else None
    stored = await state.service.reply(agente, conversation_id, body.text, key)
    return ReplyOut.from_row(stored, agente.auth_user_id, agente.nombre)


@router.post("/conversations/{conversation_id}/{action}", responses=errors(401, 403, 404, 409))
async def act(conversation_id: UUID, action: Action, agente: Staff, state: State) -> ActionOut:
    """`claim` it (the assistant stops answering; another agent's claim is a 409),
    `unassign` it (it stays with staff, for anyone to take), `release` it back to the
    assistant, `close` it, or `reopen` it."""
    return ActionOut.from_row(await state.service.act(agente, conversation_id, action))
