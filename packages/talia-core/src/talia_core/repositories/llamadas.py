"""Phone calls: registered from /incoming with a one-time stream token, their turns, their end."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from talia_core.repositories.sql import fetch_row, fetch_value


@dataclass(frozen=True)
class RegisteredCall:
    """A call's conversation and the one-time token its stream must present.

    `armado` is False, and there is no token, when the call already streamed or ended.
    """

    conversacion_id: UUID
    contacto_id: UUID
    repetido: bool
    armado: bool
    stream_token: str = ""


@dataclass(frozen=True)
class StoredTurn:
    """A transcript turn as stored; `repetido` when that sequence was already stored."""

    mensaje_id: int
    repetido: bool


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class LlamadasRepository:
    """A call is a conversation on the voice channel, with a stream token and `call_*` events."""

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool

    async def register(
        self, *, call_sid: str, caller: str, assistant: str, token_ttl_seconds: int
    ) -> RegisteredCall:
        """Contact, conversation and `call_started` for a call, with a fresh stream token
        unless the call already streamed or ended."""
        token = secrets.token_urlsafe(24)
        row = await fetch_row(
            self._pool,
            "select * from public.registrar_llamada(%s, %s, %s, %s, %s)",
            (call_sid, caller, assistant, _hash(token), token_ttl_seconds),
            RegisteredCall,
        )
        if not row.armado:
            return row
        return RegisteredCall(row.conversacion_id, row.contacto_id, row.repetido, True, token)

    async def spend_stream_token(self, *, call_sid: str, token: str) -> UUID | None:
        """The call's conversation when `token` is its unexpired, unused token; else None."""
        found = await fetch_value(
            self._pool, "select public.consumir_token_llamada(%s, %s)", (call_sid, _hash(token))
        )
        return found if isinstance(found, UUID) else None

    async def record_turn(
        self,
        *,
        call_sid: str,
        sequence: int,
        role: str,
        text: str,
        metadata: dict[str, Any] | None = None,
    ) -> StoredTurn:
        """One caller (`user`) or assistant turn of the call's transcript, by sequence."""
        return await fetch_row(
            self._pool,
            "select * from public.registrar_turno_llamada(%s, %s, %s, %s, %s)",
            (call_sid, sequence, role, text, Jsonb(metadata or {})),
            StoredTurn,
        )

    async def end(self, *, call_sid: str, details: dict[str, Any]) -> bool:
        """Close the call's conversation and add `details` to its one `call_ended` event."""
        return bool(
            await fetch_value(
                self._pool,
                "select public.terminar_llamada(%s, %s)",
                (call_sid, Jsonb(details)),
            )
        )
