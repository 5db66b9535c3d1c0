"""Conversations: a contact's exchange on one channel, its state and OpenAI conversation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from uuid import UUID

from psycopg_pool import AsyncConnectionPool

from talia_core.repositories.sql import fetch_row, fetch_rows, fetch_value

Estado = Literal["open", "handoff", "closed"]
Canal = Literal["whatsapp", "webchat", "voice"]
# What staff do with a conversation (supabase/schemas/25_takeover.sql holds who may).
Accion = Literal["claim", "assign", "unassign", "release", "close", "reopen"]


@dataclass(frozen=True)
class ConversacionEnCurso:
    """What answering a conversation needs of it: whose it is, its assistant, its state and
    its OpenAI conversation (once the first reply made one)."""

    conversacion_id: UUID
    canal: Canal
    contacto_id: UUID
    asistente_clave: str
    estado: Estado
    openai_conversation_id: str | None


@dataclass(frozen=True)
class Conversacion(ConversacionEnCurso):
    """A row of `conversaciones`."""

    proveedor_id: str | None
    started_at: datetime
    last_message_at: datetime | None
    closed_at: datetime | None
    agente_id: UUID | None = None
    handoff_at: datetime | None = None


@dataclass(frozen=True)
class ConversacionAbierta:
    """What opening a conversation returned."""

    conversacion_id: UUID
    contacto_id: UUID
    repetido: bool


@dataclass(frozen=True)
class CambioEstado:
    """The state after a change, and whether it changed."""

    estado: Estado
    cambiado: bool


@dataclass(frozen=True)
class Tenencia:
    """Who holds a conversation after a staff action, its state, and whether it changed."""

    estado: Estado
    agente_id: UUID | None
    cambiado: bool


class ConversacionesRepository:
    """Opens conversations and moves them between open, handoff and closed."""

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool

    async def get(self, conversacion_id: UUID) -> Conversacion | None:
        """A conversation by id, or None."""
        rows = await fetch_rows(
            self._pool,
            "select * from public.conversaciones where conversacion_id = %s",
            (conversacion_id,),
            Conversacion,
        )
        return rows[0] if rows else None

    async def open(
        self, *, canal: str, identidad: str, asistente: str, proveedor_id: str | None = None
    ) -> ConversacionAbierta:
        """A new conversation for a channel identity; a repeated provider id returns the first."""
        return await fetch_row(
            self._pool,
            "select * from public.abrir_conversacion(%s, %s, %s, %s)",
            (canal, identidad, asistente, proveedor_id),
            ConversacionAbierta,
        )

    async def hand_off(self, conversacion_id: UUID, *, motivo: str | None = None) -> CambioEstado:
        """Hand the conversation to staff: the assistant stops answering it."""
        return await fetch_row(
            self._pool,
            "select * from public.marcar_handoff(%s, %s)",
            (conversacion_id, motivo),
            CambioEstado,
        )

    async def give_back(self, conversacion_id: UUID) -> CambioEstado:
        """Staff gives the conversation back to the assistant."""
        return await fetch_row(
            self._pool,
            "select * from public.devolver_conversacion(%s)",
            (conversacion_id,),
            CambioEstado,
        )

    async def close(self, conversacion_id: UUID, *, motivo: str | None = None) -> CambioEstado:
        """Close the conversation (a call ended, a session expired)."""
        return await fetch_row(
            self._pool,
            "select * from public.cambiar_estado_conversacion(%s, 'closed', %s)",
            (conversacion_id, motivo),
            CambioEstado,
        )

    async def act(
        self,
        conversacion_id: UUID,
        *,
        agente_id: UUID,
        accion: Accion,
        destino: UUID | None = None,
    ) -> Tenencia:
        """A staff member's action on the conversation; `destino` is the agent an admin
        assigns it to. Raises ActionForbidden, RecordNotFound or RecordConflict (its code
        names the rule) when the takeover rules refuse it."""
        return await fetch_row(
            self._pool,
            "select * from public.actuar_en_conversacion(%s, %s, %s, %s)",
            (conversacion_id, agente_id, accion, destino),
            Tenencia,
        )

    async def attach_openai_conversation(self, conversacion_id: UUID, openai_id: str) -> str:
        """Store the OpenAI conversation id once; returns the id that is stored."""
        stored = await fetch_value(
            self._pool,
            "select public.asignar_openai_conversation(%s, %s)",
            (conversacion_id, openai_id),
        )
        return str(stored)
