"""The reply job: answer what a person wrote since the last reply, then send what is unsent.

A job can die anywhere and run again, and a retry neither loses nor repeats a reply:
- the reply is recorded (with an idempotency key) before anything is sent;
- a part is marked `sending` before its request and given Twilio's SID after it;
- a part found `sending` without a SID is in doubt: Twilio's list of the person's messages
  says whether it arrived (its SID is recorded) or not (it is sent);
- a send still in doubt fails the job, which is retried; the last attempt records the part
  `failed` with a `delivery_failed` event.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

import openai
import structlog
from twilio.base.exceptions import TwilioRestException

from talia_core.ai.engine import TextEngine, UserTurn
from talia_core.ai.events import ReplyFinished
from talia_core.ai.transcription import transcribe_audio
from talia_core.assistants.profile import AssistantProfile
from talia_core.assistants.registry import AssistantRegistry
from talia_core.clients.twilio import TWILIO_TRANSPORT_ERRORS
from talia_core.repositories.contactos import Contacto, ContactosRepository
from talia_core.repositories.conversaciones import Conversacion, ConversacionesRepository
from talia_core.repositories.eventos import EventosRepository
from talia_core.repositories.mensajes import Mensaje, MensajesRepository
from talia_core.tracing import continued_from, span
from talia_whatsapp.media import MediaFetcher, MediaUnavailable
from talia_whatsapp.metrics import ReplyMetrics
from talia_whatsapp.sender import InDoubt, NotSent, Sent, WhatsAppSender
from talia_whatsapp.splitting import split_reply

log = structlog.stdlib.get_logger("talia.whatsapp.replies")

# How many debounce windows a reply waits, at most, for a person who keeps writing.
_LONGEST_WAIT = 5


class DeliveryInDoubt(Exception):
    """A part may or may not have reached Twilio; the job's retry will find out."""


@dataclass(frozen=True)
class _Turn:
    text: str
    unsupported_media: bool
    last: Mensaje


class ReplyService:
    """What one reply job does for one conversation."""

    def __init__(
        self,
        *,
        engine: TextEngine,
        sender: WhatsAppSender,
        fetcher: MediaFetcher,
        openai_client: openai.AsyncOpenAI,
        registry: AssistantRegistry,
        conversaciones: ConversacionesRepository,
        contactos: ContactosRepository,
        mensajes: MensajesRepository,
        eventos: EventosRepository,
        debounce: timedelta,
        metrics: ReplyMetrics,
    ) -> None:
        self._engine = engine
        self._sender = sender
        self._fetcher = fetcher
        self._openai = openai_client
        self._registry = registry
        self._conversaciones = conversaciones
        self._contactos = contactos
        self._mensajes = mensajes
        self._eventos = eventos
        self._debounce = debounce
        self._metrics = metrics

    async def answer(self, conversacion_id: UUID, *, last_attempt: bool) -> None:
        """Reply to the unanswered messages (if the assistant still may), then send.

        `last_attempt` False lets a send in doubt fail the job, to be settled by a retry.
        A conversation staff hold has nothing for the assistant: its job only sends what
        they wrote, without waiting for the person to be quiet.
        """
        conversation = await self._conversaciones.get(conversacion_id)
        if conversation is None:
            return  # forgotten since it was queued
        pending: list[Mensaje] = []
        if conversation.estado == "open":
            pending, waited = await self._unanswered_once_quiet(conversacion_id)
            if waited:  # staff may have taken it while the person was writing
                conversation = await self._conversaciones.get(conversacion_id)
                if conversation is None:
                    return
        parent, links = continued_from(message.metadata for message in pending)
        with span(
            "whatsapp reply",
            context=parent,
            links=links,
            attributes={
                "talia.conversation_id": str(conversacion_id),
                "talia.messages": len(pending),
                "talia.last_attempt": last_attempt,
            },
        ):
            await self._answer(conversation, pending, last_attempt=last_attempt)

    async def _answer(
        self, conversation: Conversacion, pending: list[Mensaje], *, last_attempt: bool
    ) -> None:
        contact = await self._contactos.get(conversation.contacto_id)
        if contact is None or contact.opt_out:
            return
        if pending and conversation.estado == "open":
            profile = (await self._registry.get(conversation.asistente_clave)).for_channel(
                "whatsapp"
            )
            turn = await self._read(pending, profile, contact)
            await self._reply(conversation, profile, turn)
        await self._send_unsent(conversation, contact, last_attempt=last_attempt)

    async def _unanswered_once_quiet(self, conversacion_id: UUID) -> tuple[list[Mensaje], bool]:
        """The unanswered messages, once the person has not written for the debounce window,
        and whether that took a wait.

        The job was queued by the first message of a burst; later ones leave it alone, so the
        wait for the end of the burst happens here. Someone who never pauses is answered
        after `_LONGEST_WAIT` windows: a job must not hold a worker slot for good.
        """
        give_up = datetime.now(UTC) + self._debounce * _LONGEST_WAIT
        waited = False
        while True:
            pending = await self._mensajes.unanswered(conversacion_id)
            now = datetime.now(UTC)
            if not pending or now >= give_up:
                return pending, waited
            quiet = now - pending[-1].created_at
            if quiet >= self._debounce:
                return pending, waited
            waited = True
            await asyncio.sleep(min(self._debounce - quiet, give_up - now).total_seconds())

    async def _read(
        self, pending: list[Mensaje], profile: AssistantProfile, contact: Contacto
    ) -> _Turn:
        """The words of the pending messages, voice notes transcribed (once)."""
        voice_notes = [m.mensaje_id for m in pending if m.tipo == "audio"]
        transcribed = await self._mensajes.transcripts(pending[0].conversacion_id, voice_notes)
        texts: list[str] = []
        unsupported = False
        for message in pending:
            if message.tipo == "audio":
                heard = transcribed.get(message.mensaje_id) or await self._transcribe(
                    message, profile, contact
                )
                if heard:
                    texts.append(heard)
                else:
                    unsupported = True
            elif message.tipo in {"image", "media"} and not message.contenido:
                unsupported = True
            elif message.contenido:
                texts.append(message.contenido)
        return _Turn("\n".join(texts), unsupported, pending[-1])

    async def _transcribe(
        self, message: Mensaje, profile: AssistantProfile, contact: Contacto
    ) -> str | None:
        media = message.media if isinstance(message.media, list) else []
        if not media:
            return None
        try:
            audio = await self._fetcher.fetch(str(media[0]["url"]))
            text = await transcribe_audio(
                self._openai,
                audio=audio.content,
                filename="voice-note." + audio.content_type.rsplit("/", 1)[-1],
                content_type=audio.content_type,
                model=profile.transcription_model,
            )
        except (MediaUnavailable, openai.APIError) as exc:
            log.warning("voice_note_not_transcribed", error=type(exc).__name__)
            return None
        if text:
            await self._mensajes.record_transcript(
                message, identidad=contact.identidad, asistente=profile.key, texto=text
            )
        return text or None

    async def _reply(
        self, conversation: Conversacion, profile: AssistantProfile, turn: _Turn
    ) -> None:
        key = f"whatsapp:{turn.last.mensaje_id}"
        if not turn.text:
            if turn.unsupported_media:
                text = profile.fallback.unsupported_media or profile.fallback.default
                await self._mensajes.record_outbound(
                    conversacion_id=conversation.conversacion_id,
                    contenido=text,
                    idempotency_key=key,
                    respuesta_a=turn.last.mensaje_id,
                    metadata={"unsupported_media": True},
                )
            return
        finished: ReplyFinished | None = None
        user_turn = UserTurn(
            conversacion_id=conversation.conversacion_id,
            text=turn.text,
            reply_to=turn.last.mensaje_id,
            idempotency_key=key,
        )
        async for event in self._engine.reply(
            user_turn, conversation=conversation, profile=profile
        ):
            if isinstance(event, ReplyFinished):
                finished = event
        if finished is None:
            return
        if finished.message_id is not None and finished.text:
            parts = split_reply(finished.text)
            if len(parts) > 1:
                await self._mensajes.split(finished.message_id, parts)
        if finished.handed_off and finished.notice:
            # Once, after the reply: the conversation's next jobs find it in handoff and
            # do not ask the model, nor come here.
            await self._mensajes.record_outbound(
                conversacion_id=conversation.conversacion_id,
                contenido=finished.notice,
                idempotency_key=f"{key}:handoff",
                respuesta_a=turn.last.mensaje_id,
                metadata={"handoff_notice": True},
            )

    async def _send_unsent(
        self, conversation: Conversacion, contact: Contacto, *, last_attempt: bool
    ) -> None:
        unsent = await self._mensajes.unsent(conversation.conversacion_id)
        for position, message in enumerate(unsent):
            try:
                outcome = await self._deliver(message, contact)
            except DeliveryInDoubt:
                if not last_attempt:
                    raise
                outcome = NotSent("unconfirmed")
            if isinstance(outcome, NotSent):
                await self._give_up(conversation, unsent[position:], outcome)
                return
            await self._mensajes.update_delivery(
                canal="whatsapp",
                proveedor_id=outcome.sid,
                estado="sending",
                mensaje_id=message.mensaje_id,
            )
            self._metrics.delivery("accepted")

    async def _deliver(self, message: Mensaje, contact: Contacto) -> Sent | NotSent:
        """Hand one part to Twilio once, settling an earlier try first.

        Raises DeliveryInDoubt when it cannot tell whether Twilio has the part.
        """
        if message.estado_entrega == "sending":
            sid = await self._sent_before(message, contact)
            if sid is not None:
                return Sent(sid)
        else:
            await self._mensajes.update_delivery(
                canal="whatsapp", proveedor_id=None, estado="sending", mensaje_id=message.mensaje_id
            )
        outcome = await self._sender.send(to=contact.identidad, body=message.contenido or "")
        if isinstance(outcome, InDoubt):
            raise DeliveryInDoubt(outcome.error)
        return outcome

    async def _sent_before(self, message: Mensaje, contact: Contacto) -> str | None:
        """The SID of this part if an earlier try reached Twilio, else None."""
        try:
            candidates = await self._sender.sent_like(
                to=contact.identidad, body=message.contenido or "", since=message.updated_at
            )
        except (TwilioRestException, *TWILIO_TRANSPORT_ERRORS) as exc:
            raise DeliveryInDoubt(type(exc).__name__) from exc
        # Those are other parts' own messages.
        taken = await self._mensajes.provider_ids_stored("whatsapp", candidates)
        found = next((sid for sid in candidates if sid not in taken), None)
        log.info("send_reconciled", message_id=message.mensaje_id, reached_twilio=bool(found))
        return found

    async def _give_up(
        self, conversation: Conversacion, messages: list[Mensaje], failure: NotSent
    ) -> None:
        """Record the failure on this part and the ones after it (they would fail alike)."""
        for message in messages:
            self._metrics.delivery("failed", failure.code)
            await self._mensajes.update_delivery(
                canal="whatsapp",
                proveedor_id=None,
                estado="failed",
                error_codigo=failure.code,
                mensaje_id=message.mensaje_id,
            )
        await self._eventos.record(
            "delivery_failed",
            conversacion_id=conversation.conversacion_id,
            contacto_id=conversation.contacto_id,
            payload={
                "error_code": failure.code,
                "outside_session_window": failure.outside_session_window,
                "messages": [m.mensaje_id for m in messages],
            },
        )
