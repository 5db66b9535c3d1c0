"""WhatsApp endpoints under `/api/whatsapp`: inbound messages and delivery statuses."""

from __future__ import annotations

import structlog
from fastapi import APIRouter, Request, Response

from talia_core.openapi import EVERY_ENDPOINT, twilio_webhook
from talia_core.repositories.errors import RecordNotFound
from talia_core.security import SignedTwilioForm
from talia_whatsapp.deps import State, get_state
from talia_whatsapp.schemas import DELIVERY_STATUSES, MAX_MEDIA, parse_inbound, parse_status
from talia_whatsapp.sender import OUTSIDE_SESSION_WINDOW

router = APIRouter(prefix="/api/whatsapp", tags=["whatsapp"], responses=EVERY_ENDPOINT)
log = structlog.stdlib.get_logger("talia.whatsapp")

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'


def _keyword(text: str) -> str:
    return " ".join(text.lower().split()).strip(" .!¡")


@twilio_webhook(
    router,
    "/webhook",
    fields={
        "MessageSid": "The message's id; stored once however often it arrives.",
        "From": "The customer, e.g. whatsapp:+34600111222.",
        "To": "Our WhatsApp sender.",
        "Body": "The text (may be empty with media).",
        "NumMedia": f"How many MediaUrlN/MediaContentTypeN pairs follow (0 to {MAX_MEDIA}).",
        "ProfileName": "The customer's WhatsApp profile name.",
        "ButtonPayload": "A quick-reply button's payload.",
        "ButtonText": "A quick-reply button's text.",
        "Latitude": "A shared location.",
        "Longitude": "A shared location.",
        "OriginalRepliedMessageSid": "The message this one replies to.",
    },
    required=["MessageSid", "From"],
    twiml=True,
)
async def inbound_message(form: SignedTwilioForm, request: Request) -> Response:
    """Store the message and queue its reply in one transaction; acknowledge at once."""
    # Read here rather than as a second dependency: on this hot path FastAPI's solving of
    # one more dependency was 7% of a request's instructions (bench/whatsapp_instructions.py).
    state = await get_state(request)
    message = parse_inbound(form)
    settings = state.settings.whatsapp
    keyword = _keyword(message.body)
    opting_out = keyword in settings.opt_out_keywords
    recorded = await state.inbound.record(
        message,
        assistant=state.settings.app.assistant,
        debounce_ms=settings.debounce_ms,
        answer=not opting_out,
    )
    if not recorded.repetido and (opting_out or keyword in settings.opt_in_keywords):
        await state.contactos.set_opt_out(recorded.contacto_id, opt_out=opting_out)
    if recorded.preparar_openai:  # a new conversation: its reply job is at least a quiet wait away
        state.engine.prepare_openai_conversation_soon(recorded.conversacion_id, "whatsapp")
    # Told by the request's one access log line, not a line of its own.
    structlog.contextvars.bind_contextvars(
        message_id=recorded.mensaje_id,
        repeated=recorded.repetido,
        queued=recorded.encolado,
        kind=message.kind,
    )
    return Response(EMPTY_TWIML, media_type="text/xml")


@twilio_webhook(
    router,
    "/status",
    status_code=204,
    fields={
        "MessageSid": "The message we sent.",
        "MessageStatus": "queued, sent, delivered, read, failed, undelivered...",
        "ErrorCode": "Twilio's error code, for failed and undelivered.",
    },
    required=["MessageSid", "MessageStatus"],
)
async def delivery_status(form: SignedTwilioForm, state: State) -> Response:
    """Move the sent message's status forward; older statuses arriving late change nothing."""
    status = parse_status(form)
    if status.status not in DELIVERY_STATUSES:
        return Response(status_code=204)  # e.g. `accepted`: nothing to record
    try:
        updated = await state.mensajes.update_delivery(
            canal="whatsapp",
            proveedor_id=status.message_sid,
            estado=status.status,
            error_codigo=status.error_code,
        )
    except RecordNotFound:
        log.info("status_for_unknown_message", status=status.status)
        return Response(status_code=204)
    if updated.cambiado:
        state.metrics.delivery(status.status, status.error_code)
    if updated.cambiado and status.status in {"failed", "undelivered"}:
        message = await state.mensajes.get(updated.mensaje_id)
        await state.eventos.record(
            "delivery_failed",
            conversacion_id=message.conversacion_id if message else None,
            payload={
                "error_code": status.error_code,
                "outside_session_window": status.error_code == str(OUTSIDE_SESSION_WINDOW),
                "messages": [updated.mensaje_id],
            },
        )
    return Response(status_code=204)
