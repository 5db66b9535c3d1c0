"""What staff do, over the repositories: list and open conversations, act on them, reply."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from uuid import UUID

from psycopg_pool import AsyncConnectionPool

from talia_core.errors import Conflict, NotFound, PayloadTooLarge
from talia_core.queues import WHATSAPP_REPLIES
from talia_core.repositories.agentes import Agente, AgentesRepository, Rol
from talia_core.repositories.bandeja import (
    BandejaRepository,
    DetalleConversacion,
    FilaBandeja,
    FiltroBandeja,
    PosicionBandeja,
)
from talia_core.repositories.contactos import ContactosRepository, FiltroLeads, Lead, PosicionLeads
from talia_core.repositories.conversaciones import Accion, ConversacionesRepository, Tenencia
from talia_core.repositories.mensajes import MensajesRepository, RespuestaAgente


class ConversationNotFound(NotFound):
    code = "conversation_not_found"
    message = "There is no such conversation."


class ReplyTooLong(PayloadTooLarge):
    code = "reply_too_long"


class AuthUserNotFound(NotFound):
    code = "auth_user_not_found"
    message = (
        "No user of the project's Supabase Auth has that email: invite them first"
        " (Supabase dashboard, Authentication), or give their user_id."
    )


class StaffNotFound(NotFound):
    code = "staff_not_found"
    message = "No staff member has that id."


class CannotDisableYourself(Conflict):
    code = "cannot_disable_yourself"
    message = "Admins cannot disable themselves; another admin can."


# Leads read per query while a CSV export streams.
EXPORT_BATCH = 500


@dataclass(frozen=True)
class Page:
    rows: list[FilaBandeja]
    next_position: PosicionBandeja | None


@dataclass(frozen=True)
class LeadPage:
    rows: list[Lead]
    next_position: PosicionLeads | None


class ConsoleService:
    """The console's use cases; who may do what is the database's rule (25_takeover.sql)."""

    def __init__(self, pool: AsyncConnectionPool, *, page_size: int, max_reply_chars: int) -> None:
        self._inbox = BandejaRepository(pool)
        self._staff = AgentesRepository(pool)
        self._contacts = ContactosRepository(pool)
        self._conversations = ConversacionesRepository(pool)
        self._messages = MensajesRepository(pool)
        self._page_size = page_size
        self._max_reply_chars = max_reply_chars

    async def page(
        self, agente: Agente, filtro: FiltroBandeja, after: PosicionBandeja | None
    ) -> Page:
        """One page of conversations, and where the next starts (None on the last)."""
        rows = await self._inbox.page(
            lector=agente.auth_user_id, filtro=filtro, despues_de=after, limite=self._page_size + 1
        )
        if len(rows) <= self._page_size:
            return Page(rows, None)
        rows = rows[: self._page_size]
        return Page(rows, rows[-1].posicion())

    async def leads(self, filtro: FiltroLeads, after: PosicionLeads | None) -> LeadPage:
        """One page of leads, the most recently saved first, and where the next starts."""
        rows = await self._contacts.leads(filtro, despues_de=after, limite=self._page_size + 1)
        if len(rows) <= self._page_size:
            return LeadPage(rows, None)
        rows = rows[: self._page_size]
        return LeadPage(rows, rows[-1].posicion())

    async def every_lead(self, filtro: FiltroLeads) -> AsyncIterator[Lead]:
        """Every lead matching `filtro`, read `EXPORT_BATCH` at a time."""
        after: PosicionLeads | None = None
        while True:
            rows = await self._contacts.leads(filtro, despues_de=after, limite=EXPORT_BATCH)
            for row in rows:
                yield row
            if len(rows) < EXPORT_BATCH:
                return
            after = rows[-1].posicion()

    async def open(self, agente: Agente, conversacion_id: UUID) -> DetalleConversacion:
        """The whole conversation; it counts as read by `agente` up to its last message."""
        detail = await self._inbox.detail(conversacion_id)
        if detail is None:
            raise ConversationNotFound
        if detail.mensajes:
            last = detail.mensajes[-1].mensaje_id
            await self._inbox.mark_read(agente.auth_user_id, conversacion_id, last)
        return detail

    async def act(
        self, agente: Agente, conversacion_id: UUID, accion: Accion, destino: UUID | None = None
    ) -> Tenencia:
        """A takeover action by `agente`."""
        return await self._conversations.act(
            conversacion_id, agente_id=agente.auth_user_id, accion=accion, destino=destino
        )

    async def reply(
        self, agente: Agente, conversacion_id: UUID, text: str, idempotency_key: str | None
    ) -> RespuestaAgente:
        """Store the agent's reply for its channel to deliver (WhatsApp's by its job)."""
        if len(text) > self._max_reply_chars:
            raise ReplyTooLong(f"The reply is over {self._max_reply_chars} characters.")
        return await self._messages.reply_as_agent(
            conversacion_id,
            agente_id=agente.auth_user_id,
            texto=text,
            idempotency_key=f"staff:{idempotency_key or uuid.uuid4()}",
            envios=WHATSAPP_REPLIES,
        )

    async def team(self) -> list[Agente]:
        """Every staff member, active first."""
        return await self._staff.list()

    async def add_member(
        self, *, email: str, nombre: str, rol: Rol, auth_user_id: UUID | None
    ) -> Agente:
        """Add (or update and reactivate) a staff member; the Auth user is found by email
        when no id is given."""
        user = auth_user_id or await self._staff.auth_user_id(email)
        if user is None:
            raise AuthUserNotFound
        await self._staff.save(auth_user_id=user, email=email, nombre=nombre, rol=rol)
        member = await self._staff.active(user)
        if member is None:  # disabled again by someone meanwhile
            raise StaffNotFound
        return member

    async def disable_member(self, admin: Agente, auth_user_id: UUID) -> Agente:
        """Disable a staff member (never the admin asking: they would lock themselves out)."""
        if auth_user_id == admin.auth_user_id:
            raise CannotDisableYourself
        member = await self._staff.get(auth_user_id)
        if member is None:
            raise StaffNotFound
        await self._staff.disable(member.email)
        return replace(member, activo=False)
