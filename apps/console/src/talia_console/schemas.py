"""Request and response bodies of the console API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator

from talia_console.erasure import Attempt
from talia_core.repositories.agentes import Agente, Rol
from talia_core.repositories.bandeja import DetalleConversacion, FilaBandeja
from talia_core.repositories.borrados import Servicio
from talia_core.repositories.contactos import Contacto, Lead
from talia_core.repositories.conversaciones import Canal, Estado, Tenencia
from talia_core.repositories.eventos import Evento
from talia_core.repositories.mensajes import MensajeConAutor, RespuestaAgente
from talia_core.repositories.novedades import EstadoActual, EventoNuevo, MensajeNuevo
from talia_core.repositories.webhooks import Entrega, Formato, Webhook
from talia_core.text import clean_text, is_identifier

Role = Literal["user", "assistant", "agent", "system"]
# The database's `staff` role is an agent to the API, as the console shows it.
_ROLES: dict[str, Role] = {"user": "user", "assistant": "assistant", "staff": "agent"}


class AgentRef(BaseModel):
    """A staff member, as a conversation or a message names them."""

    id: UUID
    name: str | None


def _agent(agente_id: UUID | None, nombre: str | None) -> AgentRef | None:
    return AgentRef(id=agente_id, name=nombre) if agente_id is not None else None


def _waiting_seconds(estado: str, handoff_at: datetime | None, now: datetime) -> float | None:
    if estado != "handoff" or handoff_at is None:
        return None
    return round(max(0.0, (now - handoff_at).total_seconds()), 1)


class ContactSummary(BaseModel):
    id: UUID
    name: str | None
    identity: str
    email: str | None


class LastMessage(BaseModel):
    role: Role
    text: str | None
    created_at: datetime


class ConversationSummary(BaseModel):
    """A conversation in a list."""

    id: UUID
    channel: Canal
    state: Estado
    assigned_agent: AgentRef | None
    contact: ContactSummary
    last_message: LastMessage | None
    unread: int
    waiting_seconds: float | None = Field(description="Since the handoff, while in handoff.")
    started_at: datetime
    last_message_at: datetime | None
    closed_at: datetime | None

    @classmethod
    def from_row(cls, row: FilaBandeja, now: datetime) -> ConversationSummary:
        last = None
        if row.ultimo_at is not None:
            role = _ROLES.get(row.ultimo_rol or "", "system")
            last = LastMessage(role=role, text=row.ultimo_texto, created_at=row.ultimo_at)
        return cls(
            id=row.conversacion_id,
            channel=row.canal,
            state=row.estado,
            assigned_agent=_agent(row.agente_id, row.agente_nombre),
            contact=ContactSummary(
                id=row.contacto_id,
                name=row.contacto_nombre,
                identity=row.contacto_identidad,
                email=row.contacto_email,
            ),
            last_message=last,
            unread=row.no_leidos,
            waiting_seconds=_waiting_seconds(row.estado, row.handoff_at, now),
            started_at=row.started_at,
            last_message_at=row.last_message_at,
            closed_at=row.closed_at,
        )


class ConversationPage(BaseModel):
    conversations: list[ConversationSummary]
    next_cursor: str | None


class ContactOut(BaseModel):
    """A contact with the lead data they gave."""

    id: UUID
    channel: str
    identity: str
    name: str | None
    email: str | None
    phone: str | None
    interest: str | None
    notes: str | None
    opted_out: bool

    @classmethod
    def from_row(cls, row: Contacto) -> ContactOut:
        return cls(
            id=row.contacto_id,
            channel=row.canal,
            identity=row.identidad,
            name=row.nombre,
            email=row.email,
            phone=row.telefono,
            interest=row.interes,
            notes=row.notas,
            opted_out=row.opt_out,
        )


class MessageOut(BaseModel):
    """A message of any role; `author` names the agent who wrote it."""

    id: int
    role: Role
    type: str
    direction: str
    text: str | None
    created_at: datetime
    delivery_status: str | None
    author: AgentRef | None

    @classmethod
    def from_row(cls, row: MensajeConAutor) -> MessageOut:
        return cls(
            id=row.mensaje_id,
            role=_ROLES.get(row.rol, "system"),
            type=row.tipo,
            direction=row.direccion,
            text=row.contenido,
            created_at=row.created_at,
            delivery_status=row.estado_entrega,
            author=_agent(row.agente_id, row.agente_nombre),
        )


class EventOut(BaseModel):
    id: int
    type: str
    created_at: datetime
    data: dict[str, Any]

    @classmethod
    def from_row(cls, row: Evento) -> EventOut:
        return cls(id=row.evento_id, type=row.tipo, created_at=row.created_at, data=row.payload)


class WhatsAppWindow(BaseModel):
    """WhatsApp's customer service window: free-form replies only while it is open."""

    open: bool
    until: datetime | None


class ConversationDetail(BaseModel):
    """One conversation, whole."""

    id: UUID
    channel: Canal
    state: Estado
    assigned_agent: AgentRef | None
    waiting_seconds: float | None
    started_at: datetime
    closed_at: datetime | None
    contact: ContactOut
    messages: list[MessageOut]
    events: list[EventOut]
    whatsapp_window: WhatsAppWindow | None

    @classmethod
    def from_detail(cls, detail: DetalleConversacion, now: datetime) -> ConversationDetail:
        conversation = detail.conversacion
        window = None
        if conversation.canal == "whatsapp":
            until = conversation.ventana_whatsapp_hasta
            window = WhatsAppWindow(open=until is not None and until > now, until=until)
        return cls(
            id=conversation.conversacion_id,
            channel=conversation.canal,
            state=conversation.estado,
            assigned_agent=_agent(conversation.agente_id, conversation.agente_nombre),
            waiting_seconds=_waiting_seconds(conversation.estado, conversation.handoff_at, now),
            started_at=conversation.started_at,
            closed_at=conversation.closed_at,
            contact=ContactOut.from_row(detail.contacto),
            messages=[MessageOut.from_row(row) for row in detail.mensajes],
            events=[EventOut.from_row(row) for row in detail.eventos],
            whatsapp_window=window,
        )


class ActionOut(BaseModel):
    """The conversation after an action; `changed` is false for a repeat."""

    state: Estado
    assigned_agent_id: UUID | None
    changed: bool

    @classmethod
    def from_row(cls, row: Tenencia) -> ActionOut:
        return cls(state=row.estado, assigned_agent_id=row.agente_id, changed=row.cambiado)


class AssignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agent_id: UUID


class ReplyIn(BaseModel):
    """An agent's reply. (WhatsApp templates come with the WhatsApp templates work.)"""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1)

    @field_validator("text")
    @classmethod
    def _clean(cls, value: str) -> str:
        text = clean_text(value)
        if not text.strip():
            raise ValueError("the reply is empty")
        return text


class ReplyOut(BaseModel):
    """The stored reply; `repeated` when the idempotency key was seen before."""

    message: MessageOut
    repeated: bool

    @classmethod
    def from_row(cls, row: RespuestaAgente, agente_id: UUID, nombre: str) -> ReplyOut:
        message = MessageOut(
            id=row.mensaje_id,
            role="agent",
            type="text",
            direction="outbound",
            text=row.contenido,
            created_at=row.created_at,
            delivery_status=row.estado_entrega,
            author=AgentRef(id=agente_id, name=nombre),
        )
        return cls(message=message, repeated=row.repetido)


class StaffOut(BaseModel):
    """The signed-in staff member."""

    id: UUID
    email: str
    name: str
    role: Rol

    @classmethod
    def from_row(cls, row: Agente) -> StaffOut:
        return cls(id=row.auth_user_id, email=row.email, name=row.nombre, role=row.rol)


class TeamMemberOut(StaffOut):
    """A staff member, as admins manage them."""

    active: bool

    @classmethod
    def from_row(cls, row: Agente) -> TeamMemberOut:
        return cls(
            id=row.auth_user_id, email=row.email, name=row.nombre, role=row.rol, active=row.activo
        )


class StaffIn(BaseModel):
    """A staff member to add (or update and reactivate): a Supabase Auth user of the
    project, by id or else by email."""

    model_config = ConfigDict(extra="forbid")

    email: str = Field(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")
    name: str = Field(min_length=1, max_length=200)
    role: Rol = "agent"
    user_id: UUID | None = None

    @field_validator("email", "name")
    @classmethod
    def _printable(cls, value: str) -> str:
        if not is_identifier(value.strip(), max_chars=320):
            raise ValueError("must be printable characters only")
        return value.strip()


class FeedConversation(BaseModel):
    """A conversation's state as the feed item was read."""

    state: Estado
    assigned_agent: AgentRef | None
    waiting_seconds: float | None

    @classmethod
    def from_state(cls, row: EstadoActual, now: datetime) -> FeedConversation:
        estado = row.cv_estado or "open"  # callers pass rows with a conversation
        return cls(
            state=estado,
            assigned_agent=_agent(row.cv_agente_id, row.cv_agente_nombre),
            waiting_seconds=_waiting_seconds(estado, row.cv_handoff_at, now),
        )


class FeedMessage(BaseModel):
    """`event: message`: a message was stored, of any role."""

    conversation_id: UUID
    message: MessageOut
    conversation: FeedConversation | None

    @classmethod
    def from_row(cls, row: MensajeNuevo, conversation: FeedConversation | None) -> FeedMessage:
        return cls(
            conversation_id=row.conversacion_id,
            message=MessageOut.from_row(row),
            conversation=conversation,
        )


class FeedEvent(BaseModel):
    """`event: conversation`: an event was recorded (a handoff, a claim, a lead...)."""

    conversation_id: UUID | None
    event: EventOut
    conversation: FeedConversation | None

    @classmethod
    def from_row(cls, row: EventoNuevo, conversation: FeedConversation | None) -> FeedEvent:
        return cls(
            conversation_id=row.conversacion_id,
            event=EventOut.from_row(row),
            conversation=conversation,
        )


class FeedTyping(BaseModel):
    """`event: typing`: the assistant is answering the customer's message (until its
    message arrives)."""

    conversation_id: UUID
    by: Literal["assistant"]


class FeedReady(BaseModel):
    """`event: ready`: the stream is open; `resumed` when it caught up from Last-Event-ID."""

    resumed: bool


class FeedReset(BaseModel):
    """`event: reset`: more was missed than the feed replays; reload the lists."""

    reason: Literal["too_much_missed"]


class LeadOut(BaseModel):
    """A contact who gave lead data, and when they last did."""

    contact: ContactOut
    saved_at: datetime

    @classmethod
    def from_row(cls, row: Lead) -> LeadOut:
        return cls(contact=ContactOut.from_row(row), saved_at=row.guardado_at)


class LeadPage(BaseModel):
    leads: list[LeadOut]
    next_cursor: str | None


class WebhookIn(BaseModel):
    """A subscription: a URL, its events, and how to sign and shape what it gets."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=1, max_length=2000)
    events: list[str] = Field(min_length=1, max_length=10)
    format: Formato = "standard"
    secret: str | None = Field(default=None, max_length=200, description="Else a new one.")

    @field_validator("url", "secret")
    @classmethod
    def _printable(cls, value: str | None) -> str | None:
        if value is not None and not is_identifier(value, max_chars=2000):
            raise ValueError("must be printable characters only")
        return value

    @field_validator("events")
    @classmethod
    def _names(cls, value: list[str]) -> list[str]:
        if not all(is_identifier(event, max_chars=50) for event in value):
            raise ValueError("event names are 1 to 50 printable characters")
        return value


class WebhookOut(BaseModel):
    """A subscription (its secret is shown once, when it was made for you)."""

    id: UUID
    url: str
    events: list[str]
    format: Formato
    created_at: datetime
    secret: str | None = None

    @classmethod
    def from_row(cls, row: Webhook, *, secret: str | None = None) -> WebhookOut:
        return cls(
            id=row.webhook_id,
            url=row.url,
            events=row.eventos,
            format=row.formato,
            created_at=row.created_at,
            secret=secret,
        )


class DeliveryOut(BaseModel):
    """One event's delivery to a subscription, so far."""

    id: int
    event_id: int
    state: Literal["pending", "delivered", "failed"]
    attempts: int
    next_attempt_at: datetime | None
    last_status: int | None
    last_error: str | None
    delivered_at: datetime | None

    @classmethod
    def from_row(cls, row: Entrega) -> DeliveryOut:
        return cls(
            id=row.entrega_id,
            event_id=row.evento_id,
            state=row.estado,
            attempts=row.intentos,
            next_attempt_at=row.siguiente_at if row.estado == "pending" else None,
            last_status=row.ultimo_status,
            last_error=row.ultimo_error,
            delivered_at=row.entregado_at,
        )


class OwedDeletion(BaseModel):
    """A provider's record of the person not deleted yet; it is retried until it is."""

    service: Servicio
    id: str
    error: str


class ForgetOut(BaseModel):
    """The person is forgotten here; `deleted` provider records went too, `pending` ones
    are retried."""

    deleted: int
    pending: list[OwedDeletion]

    @classmethod
    def from_attempts(cls, attempts: list[Attempt]) -> ForgetOut:
        return cls(
            deleted=sum(attempt.error is None for attempt in attempts),
            pending=[
                OwedDeletion(
                    service=attempt.deletion.servicio,
                    id=attempt.deletion.externo_id,
                    error=attempt.error,
                )
                for attempt in attempts
                if attempt.error is not None
            ],
        )
