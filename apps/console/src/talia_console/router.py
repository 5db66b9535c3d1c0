"""Console endpoints under `/api/console`: who I am, conversations, and what staff do."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal
from uuid import UUID

import structlog
from fastapi import APIRouter, Header, Query
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from talia_console.cursors import decode_cursor, encode_cursor
from talia_console.deps import Admin, Staff, StaffSession, State
from talia_console.feed import decode_position, stream
from talia_console.leads_csv import csv_lines
from talia_console.schemas import (
    ActionOut,
    AssignIn,
    ConversationDetail,
    ConversationPage,
    ConversationSummary,
    DeliveryOut,
    ForgetOut,
    LeadOut,
    LeadPage,
    ReplyIn,
    ReplyOut,
    StaffIn,
    StaffOut,
    TeamMemberOut,
    WebhookIn,
    WebhookOut,
)
from talia_core import sse
from talia_core.errors import BadRequest, NotFound
from talia_core.openapi import EVERY_ENDPOINT, errors
from talia_core.repositories.bandeja import FiltroBandeja, PosicionBandeja
from talia_core.repositories.contactos import FiltroLeads, PosicionLeads
from talia_core.repositories.conversaciones import Canal, Estado
from talia_core.repositories.errors import RecordNotFound
from talia_core.text import clean_text, is_identifier
from talia_core.webhooks import check_target, new_secret

router = APIRouter(prefix="/api/console", tags=["console"], responses=EVERY_ENDPOINT)
log = structlog.stdlib.get_logger("talia.console")
# The actions that take no body (assign names its agent; reply, its text).
Action = Literal["claim", "unassign", "release", "close", "reopen"]


@router.get("/me", responses=errors(401, 403))
async def me(agente: Staff) -> StaffOut:
    """The signed-in staff member."""
    return StaffOut.from_row(agente)


@router.get("/staff", responses=errors(401, 403))
async def list_staff(admin: Admin, state: State) -> list[TeamMemberOut]:
    """Every staff member, active first (admins)."""
    return [TeamMemberOut.from_row(row) for row in await state.service.team()]


@router.post("/staff", responses=errors(400, 401, 403, 404, 409, 422))
async def add_staff(body: StaffIn, admin: Admin, state: State) -> TeamMemberOut:
    """Add a staff member, or update and reactivate one (admins). They must already be a
    user of the project's Supabase Auth (invite them there first)."""
    member = await state.service.add_member(
        email=body.email, nombre=body.name, rol=body.role, auth_user_id=body.user_id
    )
    return TeamMemberOut.from_row(member)


@router.post("/staff/{user_id}/disable", responses=errors(401, 403, 404, 409))
async def disable_staff(user_id: UUID, admin: Admin, state: State) -> TeamMemberOut:
    """Stop a staff member from signing in; their history stays (admins)."""
    return TeamMemberOut.from_row(await state.service.disable_member(admin, user_id))


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


@router.get(
    "/events",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "Server-sent events: `ready`, then `message`, `conversation`"
            " (state changes, claims, handoffs, leads...) and `typing`, each with an id to"
            " resume from; `reset` when more was missed than is replayed, `expired` when"
            " the access token expires.",
            "content": {sse.MEDIA_TYPE: {"schema": {"type": "string"}}},
        },
        **errors(400, 401, 403, 422),
    },
)
async def events(
    session: StaffSession,
    state: State,
    last_event_id: Annotated[str | None, Header(max_length=64)] = None,
) -> StreamingResponse:
    """Everything stored from now on, live; after a reconnection, send the last event's id
    as `Last-Event-ID` to get what was missed first (an item may then come twice: keep
    items by their ids)."""
    since = decode_position(last_event_id) if last_event_id else None
    hub = state.feed
    subscription = hub.open()  # before reading: nothing stored meanwhile slips between
    try:
        caught_up = await hub.catch_up(since) if since is not None else []
        # After a `reset` the client reloads its lists: it goes on from now.
        start = since if since is not None and caught_up is not None else await hub.position()
    except BaseException:
        hub.close(subscription)
        raise
    body = stream(
        hub,
        subscription,
        start=start,
        caught_up=caught_up,
        resumed=since is not None,
        expires_at=session.expires_at,
    )
    return StreamingResponse(body, media_type=sse.MEDIA_TYPE, headers=sse.HEADERS)


@router.get("/conversations", responses=errors(400, 401, 403, 422))
async def list_conversations(
    query: Annotated[ListQuery, Query()], agente: Staff, state: State
) -> ConversationPage:
    """Conversations, newest activity first; in handoff, the longest waiting first."""
    after = PosicionBandeja(*decode_cursor(query.cursor)) if query.cursor else None
    page = await state.service.page(agente, query.filter_for(agente.auth_user_id), after)
    now = datetime.now(UTC)
    following = page.next_position
    return ConversationPage(
        conversations=[ConversationSummary.from_row(row, now) for row in page.rows],
        next_cursor=(
            encode_cursor(following.orden_at, following.conversacion_id) if following else None
        ),
    )


@router.get("/conversations/{conversation_id}", responses=errors(401, 403, 404, 422))
async def get_conversation(
    conversation_id: UUID, agente: Staff, state: State
) -> ConversationDetail:
    """One conversation with its contact, messages and events; marks it read."""
    detail = await state.service.open(agente, conversation_id)
    return ConversationDetail.from_detail(detail, datetime.now(UTC))


class LeadsQuery(BaseModel):
    """Leads saved in [since, until) (a date is its midnight, UTC unless an offset is given),
    on a channel."""

    model_config = ConfigDict(extra="forbid")

    since: datetime | None = None
    until: datetime | None = None
    channel: Canal | None = None

    def filter(self) -> FiltroLeads:
        return FiltroLeads(desde=_utc(self.since), hasta=_utc(self.until), canal=self.channel)


class LeadsPageQuery(LeadsQuery):
    cursor: str | None = Field(default=None, max_length=200)


def _utc(when: datetime | None) -> datetime | None:
    if when is None or when.tzinfo is not None:
        return when
    return when.replace(tzinfo=UTC)


@router.get("/leads", responses=errors(400, 401, 403, 422))
async def list_leads(
    query: Annotated[LeadsPageQuery, Query()], agente: Staff, state: State
) -> LeadPage:
    """Contacts who gave lead data, the most recently saved first."""
    after = PosicionLeads(*decode_cursor(query.cursor)) if query.cursor else None
    page = await state.service.leads(query.filter(), after)
    following = page.next_position
    return LeadPage(
        leads=[LeadOut.from_row(row) for row in page.rows],
        next_cursor=(
            encode_cursor(following.guardado_at, following.contacto_id) if following else None
        ),
    )


@router.get(
    "/leads.csv",
    response_class=StreamingResponse,
    responses={
        200: {"description": "Every matching lead, as CSV.", "content": {"text/csv": {}}},
        **errors(401, 403, 422),
    },
)
async def export_leads(
    query: Annotated[LeadsQuery, Query()], agente: Staff, state: State
) -> StreamingResponse:
    """The same leads as a CSV file (UTF-8); cells a spreadsheet would run as formulas
    start with an apostrophe."""
    return StreamingResponse(
        csv_lines(state.service.every_lead(query.filter())),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="leads.csv"'},
    )


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


@router.get("/webhooks", responses=errors(401, 403))
async def list_webhooks(admin: Admin, state: State) -> list[WebhookOut]:
    """Every webhook subscription (admins)."""
    return [WebhookOut.from_row(row) for row in await state.webhooks.every()]


@router.post("/webhooks", status_code=201, responses=errors(400, 401, 403, 422))
async def add_webhook(body: WebhookIn, admin: Admin, state: State) -> WebhookOut:
    """Subscribe a URL to events, or change its subscription (admins). Without a `secret`,
    a new one is made and shown in this answer only."""
    check_target(body.url, allow_private=state.webhook_settings.allow_private_targets)
    secret = body.secret or new_secret()
    saved = await state.webhooks.save(
        url=body.url, eventos=body.events, secreto=secret, formato=body.format
    )
    return WebhookOut.from_row(saved, secret=None if body.secret else secret)


@router.delete("/webhooks/{webhook_id}", status_code=204, responses=errors(401, 403, 404))
async def remove_webhook(webhook_id: UUID, admin: Admin, state: State) -> Response:
    """Remove a subscription and its deliveries (admins)."""
    if not await state.webhooks.remove(webhook_id):
        raise WebhookNotFound
    return Response(status_code=204)


@router.get("/webhooks/{webhook_id}/deliveries", responses=errors(401, 403, 422))
async def list_deliveries(webhook_id: UUID, admin: Admin, state: State) -> list[DeliveryOut]:
    """A subscription's latest 100 deliveries, newest first (admins)."""
    rows = await state.webhooks.deliveries(webhook_id, limite=100)
    return [DeliveryOut.from_row(row) for row in rows]


class WebhookNotFound(NotFound):
    code = "webhook_not_found"
    message = "There is no such webhook."


@router.post("/contacts/{contact_id}/forget", responses=errors(401, 403, 404, 422))
async def forget_contact(contact_id: UUID, admin: Admin, state: State) -> ForgetOut:
    """Forget a customer (admins): their contact, conversations, messages and events go,
    with their OpenAI conversations and Twilio message records; one anonymous
    `contact_forgotten` event stays. Provider records not deleted at once are listed and
    retried until they are."""
    try:
        attempts = await state.eraser.forget(contact_id)
    except RecordNotFound:
        raise ContactNotFound from None
    log.info("contact_forgotten", by=str(admin.auth_user_id), provider_records=len(attempts))
    return ForgetOut.from_attempts(attempts)


class ContactNotFound(NotFound):
    code = "contact_not_found"
    message = "There is no such contact."
