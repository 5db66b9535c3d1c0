"""Forgetting a person everywhere: our rows, their OpenAI conversations and their Twilio
message records. The provider deletions are owed rows (supabase/schemas/87_erasure.sql),
written with the erasure; they are tried at once, and what failed is tried again later,
with doubling waits, until the provider confirms (a 404 counts: nothing is left there)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Final
from uuid import UUID

import openai
import structlog
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client as TwilioClient

from talia_console.due_work import DueWork
from talia_core.clients.twilio import TWILIO_TRANSPORT_ERRORS
from talia_core.repositories.borrados import BorradoExterno, BorradosRepository

log = structlog.stdlib.get_logger("talia.console.erasure")

# A claimed deletion is the claimer's this long: longer than two provider calls can take.
CLAIM_SECONDS: Final = 120
LONGEST_RETRY_SECONDS: Final = 6 * 3600.0


@dataclass(frozen=True)
class Attempt:
    """One deletion tried: None as `error` when the provider has nothing left."""

    deletion: BorradoExterno
    error: str | None


class Eraser:
    """Deletes what OpenAI and Twilio keep of a forgotten person."""

    def __init__(
        self,
        borrados: BorradosRepository,
        openai_client: openai.AsyncOpenAI,
        twilio: TwilioClient,
        *,
        first_retry_seconds: float,
        poll_seconds: float,
    ) -> None:
        self._borrados = borrados
        self._openai = openai_client
        self._twilio = twilio
        self._first_retry_seconds = first_retry_seconds
        self.retries = DueWork(
            "erasure",
            claim=lambda: borrados.claim(limite=20, plazo_segundos=CLAIM_SECONDS),
            handle=self._attempt_quietly,
            poll_seconds=poll_seconds,
        )

    async def forget(self, contacto_id: UUID) -> list[Attempt]:
        """Forget the contact (RecordNotFound when there is none), then try every provider
        deletion it owes; the failed ones stay owed and are retried."""
        owed = await self._borrados.forget_everywhere(contacto_id, plazo_segundos=CLAIM_SECONDS)
        return list(await asyncio.gather(*(self._attempt(deletion) for deletion in owed)))

    async def _attempt_quietly(self, deletion: BorradoExterno) -> None:
        await self._attempt(deletion)

    async def _attempt(self, deletion: BorradoExterno) -> Attempt:
        error = await self._delete(deletion)
        wait = min(self._first_retry_seconds * 2 ** (deletion.intentos - 1), LONGEST_RETRY_SECONDS)
        await self._borrados.settle(
            deletion.borrado_id, hecho=error is None, error=error, reintentar_en=wait
        )
        log.info(
            "provider_data_deleted" if error is None else "provider_deletion_failed",
            service=deletion.servicio,
            attempt=deletion.intentos,
            error=error,
        )
        return Attempt(deletion, error)

    async def _delete(self, deletion: BorradoExterno) -> str | None:
        try:
            if deletion.servicio == "openai_conversation":
                await self._openai.conversations.delete(deletion.externo_id)
            else:
                await self._twilio.messages(deletion.externo_id).delete_async()
        except openai.NotFoundError:
            return None
        except openai.APIError as exc:
            return f"openai: {type(exc).__name__}"
        except TwilioRestException as exc:
            return None if exc.status == 404 else f"twilio: HTTP {exc.status}, code {exc.code}"
        except TWILIO_TRANSPORT_ERRORS as exc:
            return f"twilio: {type(exc).__name__}"
        return None
