"""Voice endpoints under `/api/voice`: the incoming call, its status, its media stream.

Each parses and checks what Twilio sent, then hands the call to `service`."""

from __future__ import annotations

import asyncio
import json

import structlog
from fastapi import APIRouter, Response, WebSocket, WebSocketDisconnect

from talia_core.forms import form_count, form_identifier
from talia_core.openapi import EVERY_ENDPOINT, twilio_webhook
from talia_core.security import SIGNATURE_HEADER, SignedTwilioForm
from talia_voice.deps import State, get_state
from talia_voice.service import (
    FINAL_CALL_STATUSES,
    STREAM_PATH,
    StreamRefused,
    answer_call,
    open_call,
    record_status,
    run_call,
)

# Twilio ends any call within 24 hours (its longest time limit): a longer duration is not real.
MAX_CALL_SECONDS = 24 * 3600
router = APIRouter(prefix="/api/voice", tags=["voice"], responses=EVERY_ENDPOINT)
log = structlog.stdlib.get_logger("talia.voice")


@twilio_webhook(
    router,
    "/incoming",
    fields={
        "CallSid": "The call's id; its stream token is armed once.",
        "From": "The caller's number.",
        "To": "Our number.",
        "CallStatus": "ringing, for a new call.",
    },
    required=["CallSid"],
    twiml=True,
)
async def incoming_call(form: SignedTwilioForm, state: State) -> Response:
    """Register the call and connect it to our Media Stream, or tell the caller why not."""
    twiml = await answer_call(
        state,
        call_sid=form_identifier(form, "CallSid", required=True),
        caller=form_identifier(form, "From"),
    )
    return Response(twiml, media_type="text/xml")


@twilio_webhook(
    router,
    "/status",
    status_code=204,
    fields={
        "CallSid": "The call.",
        "CallStatus": "completed, busy, no-answer, failed, canceled (recorded once).",
        "CallDuration": "Seconds, for completed calls.",
    },
    required=["CallSid", "CallStatus"],
)
async def call_status(form: SignedTwilioForm, state: State) -> Response:
    """Record the call's final status and duration on its `call_ended` event."""
    call_sid = form_identifier(form, "CallSid", required=True)
    status = form_identifier(form, "CallStatus")
    if status in FINAL_CALL_STATUSES:  # earlier statuses say nothing to keep
        await record_status(
            state,
            call_sid=call_sid,
            status=status,
            duration_seconds=form_count(form, "CallDuration", most=MAX_CALL_SECONDS),
        )
    return Response(status_code=204)


@router.websocket("/stream")
async def media_stream(websocket: WebSocket) -> None:
    """Twilio's bidirectional Media Stream, bridged to a Realtime session."""
    state = await get_state(websocket)
    if state.settings.calls.require_stream_signature and not state.verifier.is_valid_websocket(
        path=STREAM_PATH, signature=websocket.headers.get(SIGNATURE_HEADER)
    ):
        log.warning("stream_refused", reason="signature")
        await websocket.close(code=1008)  # before accept: the upgrade is answered 403
        return
    await websocket.accept()
    try:
        start = await asyncio.wait_for(
            _read_start(websocket), state.settings.calls.stream_start_timeout_seconds
        )
    except TimeoutError:
        start = None
    except WebSocketDisconnect:
        return
    if start is None:
        await websocket.close(code=1008, reason="expected start")
        return
    parameters = start.get("customParameters")
    try:
        call = await open_call(
            state,
            call_sid=str(start.get("callSid", "")),
            stream_sid=str(start.get("streamSid", "")),
            token=str(parameters.get("token", "") if isinstance(parameters, dict) else ""),
        )
    except StreamRefused as refused:
        await websocket.close(code=1008, reason=str(refused))
        return
    await run_call(state, websocket, call)


async def _read_start(websocket: WebSocket) -> dict[str, object] | None:
    """Skip `connected`; return the `start` payload (None for anything else, binary frames
    and text that is not a JSON object included)."""
    for _ in range(2):
        received = await websocket.receive()
        if received["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(received.get("code", 1000))
        try:
            message = json.loads(received.get("text") or "")
        except ValueError:
            return None
        if not isinstance(message, dict):
            return None
        if message.get("event") == "start":
            start = message.get("start")
            return (
                {**start, "streamSid": message.get("streamSid")}
                if isinstance(start, dict)
                else None
            )
        if message.get("event") != "connected":
            return None
    return None
