"""Voice endpoints under `/api/voice`: the incoming call, its status, its media stream."""

from __future__ import annotations

import json

import psycopg
import structlog
from fastapi import APIRouter, Response, WebSocket
from psycopg_pool import PoolTimeout

from talia_core.assistants.profile import AssistantProfile
from talia_core.assistants.realtime import build_phone_session
from talia_core.security import SIGNATURE_HEADER, SignedTwilioForm
from talia_voice.bridge import CallBridge
from talia_voice.deps import State, VoiceState, get_state
from talia_voice.twiml import connect_stream, reject_busy, say_and_hang_up

router = APIRouter(prefix="/api/voice", tags=["voice"])
log = structlog.stdlib.get_logger("talia.voice")

STREAM_PATH = "/api/voice/stream"
FINAL_CALL_STATUSES = frozenset({"completed", "busy", "failed", "no-answer", "canceled"})


def _xml(twiml: str) -> Response:
    return Response(twiml, media_type="text/xml")


def _language(profile: AssistantProfile) -> str | None:
    return profile.languages[0] if profile.languages else None


@router.post("/incoming")
async def incoming_call(form: SignedTwilioForm, state: State) -> Response:
    """Register the call and connect it to our Media Stream, or tell the caller why not."""
    call_sid = str(form.get("CallSid", ""))
    settings = state.settings
    try:
        profile = (await state.registry.get(settings.app.assistant)).for_channel("voice")
    except (psycopg.Error, PoolTimeout):
        return _xml(reject_busy())
    if len(state.live_calls) >= settings.calls.max_concurrent_calls:
        busy = profile.fallback.busy or profile.fallback.default
        return _xml(say_and_hang_up(busy, language=_language(profile)))
    try:
        call = await state.calls.register(
            call_sid=call_sid,
            caller=str(form.get("From", "")),
            assistant=profile.key,
            token_ttl_seconds=settings.calls.stream_token_ttl_seconds,
        )
    except (psycopg.Error, PoolTimeout):
        busy = profile.fallback.busy or profile.fallback.default
        return _xml(say_and_hang_up(busy, language=_language(profile)))
    origin = settings.app.public_origin or ""
    return _xml(
        connect_stream(
            stream_url=state.verifier.websocket_url(STREAM_PATH),
            parameters={
                "call_sid": call_sid,
                "conversation_id": str(call.conversacion_id),
                "token": call.stream_token,
            },
            greeting=profile.greeting,
            language=_language(profile),
            status_callback=f"{origin}/api/voice/status",
        )
    )


@router.post("/status", status_code=204)
async def call_status(form: SignedTwilioForm, state: State) -> Response:
    """Record the call's (or its stream's) status; the final one ends the call's record."""
    status = str(form.get("CallStatus") or form.get("StreamEvent") or "")
    call_sid = str(form.get("CallSid", ""))
    if status in FINAL_CALL_STATUSES:
        await state.eventos.record(
            "call_ended",
            payload={
                "call_sid": call_sid,
                "status": status,
                "duration_seconds": int(str(form.get("CallDuration") or 0) or 0),
            },
        )
    return Response(status_code=204)


@router.websocket("/stream")
async def media_stream(websocket: WebSocket) -> None:
    """Twilio's bidirectional Media Stream, bridged to a Realtime session."""
    state = get_state(websocket)
    if state.settings.calls.require_stream_signature and not state.verifier.is_valid_websocket(
        path=STREAM_PATH, signature=websocket.headers.get(SIGNATURE_HEADER)
    ):
        log.warning("stream_refused", reason="signature")
        await websocket.close(code=1008)  # before accept: the upgrade is answered 403
        return
    await websocket.accept()
    start = await _read_start(websocket)
    if start is None:
        await websocket.close(code=1008, reason="expected start")
        return
    call_sid = str(start.get("callSid", ""))
    parameters = start.get("customParameters")
    token = parameters.get("token", "") if isinstance(parameters, dict) else ""
    conversation_id = await state.calls.spend_stream_token(call_sid=call_sid, token=str(token))
    if conversation_id is None:
        log.warning("stream_refused", reason="token")
        await websocket.close(code=1008, reason="invalid stream token")
        return
    await _bridge(websocket, state, stream_sid=str(start.get("streamSid", "")), call_sid=call_sid)


async def _read_start(websocket: WebSocket) -> dict[str, object] | None:
    """Skip `connected`; return the `start` payload (None for anything else)."""
    for _ in range(2):
        message = json.loads(await websocket.receive_text())
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


async def _bridge(
    websocket: WebSocket, state: VoiceState, *, stream_sid: str, call_sid: str
) -> None:
    profile = (await state.registry.get(state.settings.app.assistant)).for_channel("voice")
    state.live_calls.add(call_sid)
    try:
        async with state.openai.realtime.connect(model=profile.realtime_model) as realtime:
            await realtime.session.update(session=build_phone_session(profile))
            # Twilio already said the greeting; the model should know it did.
            await realtime.conversation.item.create(
                item={
                    "type": "message",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": profile.greeting}],
                }
            )
            bridge = CallBridge(twilio=websocket, realtime=realtime, stream_sid=stream_sid)
            ended_by = await bridge.run(max_seconds=state.settings.calls.max_call_seconds)
            log.info("call_bridged", ended_by=ended_by)
    finally:
        state.live_calls.discard(call_sid)
