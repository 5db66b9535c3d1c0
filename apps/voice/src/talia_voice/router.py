"""Voice endpoints under `/api/voice`: the incoming call, its status, its media stream."""

from __future__ import annotations

import asyncio
import json
from uuid import UUID

import openai
import psycopg
import structlog
from fastapi import APIRouter, Response, WebSocket, WebSocketDisconnect
from psycopg_pool import PoolTimeout
from websockets.exceptions import WebSocketException

from talia_core.assistants.profile import AssistantProfile
from talia_core.assistants.realtime import build_phone_session
from talia_core.forms import form_count, form_identifier
from talia_core.openapi import EVERY_ENDPOINT, twilio_webhook
from talia_core.security import SIGNATURE_HEADER, SignedTwilioForm
from talia_voice.bridge import CallBridge, CallLimits
from talia_voice.deps import State, VoiceState, get_state
from talia_voice.live_call import LiveCall
from talia_voice.phone_tools import PhoneTools
from talia_voice.playback import Playback
from talia_voice.transcript import Transcript
from talia_voice.twiml import connect_stream, hang_up, reject_busy, say_and_hang_up

# Twilio ends any call within 24 hours (its longest time limit): a longer duration is not real.
MAX_CALL_SECONDS = 24 * 3600
router = APIRouter(prefix="/api/voice", tags=["voice"], responses=EVERY_ENDPOINT)
log = structlog.stdlib.get_logger("talia.voice")

STREAM_PATH = "/api/voice/stream"
FINAL_CALL_STATUSES = frozenset({"completed", "busy", "failed", "no-answer", "canceled"})
DATABASE_ERRORS = (psycopg.Error, PoolTimeout)
# The Realtime socket could not be opened or was refused.
REALTIME_ERRORS = (OSError, WebSocketException, openai.OpenAIError)


def _xml(twiml: str) -> Response:
    return Response(twiml, media_type="text/xml")


def _language(profile: AssistantProfile) -> str | None:
    return profile.languages[0] if profile.languages else None


def _closing_words(reason: str, profile: AssistantProfile) -> str | None:
    """What Twilio says before hanging up when the call ends for `reason` (None: nothing)."""
    if reason in {"realtime_closed", "realtime_unavailable"}:
        return profile.fallback.default
    if reason in {"max_duration", "silence", "shutdown"}:
        return profile.fallback.goodbye or profile.fallback.default
    return None


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
    call_sid = form_identifier(form, "CallSid", required=True)
    caller = form_identifier(form, "From")
    settings = state.settings
    try:
        profile = (await state.registry.get(settings.app.assistant)).for_channel("voice")
    except DATABASE_ERRORS:
        return _xml(reject_busy())
    busy = profile.fallback.busy or profile.fallback.default
    if not state.taking_calls:
        log.warning("call_refused", reason="draining" if state.core.draining else "capacity")
        return _xml(say_and_hang_up(busy, language=_language(profile)))
    try:
        call = await state.calls.register(
            call_sid=call_sid,
            caller=caller,
            assistant=profile.key,
            token_ttl_seconds=settings.calls.stream_token_ttl_seconds,
        )
    except DATABASE_ERRORS:
        return _xml(say_and_hang_up(busy, language=_language(profile)))
    if not call.armado:
        # A replayed webhook of a call that already streamed or ended: nothing to connect.
        log.warning("call_refused", reason="already_streamed_or_ended")
        return _xml(hang_up())
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
    if status in FINAL_CALL_STATUSES:
        await state.calls.end(
            call_sid=call_sid,
            details={
                "status": status,
                "duration_seconds": form_count(form, "CallDuration", most=MAX_CALL_SECONDS),
            },
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
    call_sid = str(start.get("callSid", ""))
    parameters = start.get("customParameters")
    token = parameters.get("token", "") if isinstance(parameters, dict) else ""
    conversation_id = await state.calls.spend_stream_token(call_sid=call_sid, token=str(token))
    if conversation_id is None:
        log.warning("stream_refused", reason="token")
        await websocket.close(code=1008, reason="invalid stream token")
        return
    call = await _live_call(state, conversation_id, call_sid, str(start.get("streamSid", "")))
    if call is None:  # the contact was forgotten between /incoming and the stream
        await websocket.close(code=1008, reason="unknown call")
        return
    await _bridge(websocket, state, call)


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


async def _live_call(
    state: VoiceState, conversation_id: UUID, call_sid: str, stream_sid: str
) -> LiveCall | None:
    conversation = await state.conversaciones.get(conversation_id)
    if conversation is None:
        return None
    profile = (await state.registry.get(conversation.asistente_clave)).for_channel("voice")
    return LiveCall(
        call_sid=call_sid,
        stream_sid=stream_sid,
        conversacion_id=conversation.conversacion_id,
        contacto_id=conversation.contacto_id,
        profile=profile,
    )


async def _bridge(websocket: WebSocket, state: VoiceState, call: LiveCall) -> None:
    """Run the call to its end, then say the closing words and record how it ended."""
    settings = state.settings.calls
    playback = Playback()
    transcript = Transcript(state.calls, call_sid=call.call_sid, playback=playback)
    if call.profile.greeting:
        transcript.spoken(call.profile.greeting)  # Twilio said it before the stream opened
    reason = "realtime_unavailable"
    seconds = 0.0
    try:
        async with state.openai.realtime.connect(model=call.profile.realtime_model) as realtime:
            await realtime.session.update(session=build_phone_session(call.profile))
            # Twilio already said the greeting; the model should know it did.
            await realtime.conversation.item.create(
                item={
                    "type": "message",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": call.profile.greeting}],
                }
            )
            bridge = CallBridge(
                twilio=websocket,
                realtime=realtime,
                call=call,
                transcript=transcript,
                tools=PhoneTools(
                    call, runner=state.tool_runner, control=state.control, eventos=state.eventos
                ),
                limits=CallLimits(
                    max_seconds=call.profile.max_call_seconds or settings.max_call_seconds,
                    max_silence_seconds=call.profile.max_silence_seconds
                    or settings.max_silence_seconds,
                ),
                playback=playback,
            )
            state.call_started(call.call_sid, bridge)
            reason = await bridge.run()
            seconds = bridge.seconds
    except REALTIME_ERRORS as exc:
        log.error("realtime_unavailable", error=type(exc).__name__)
    try:
        await _finish(websocket, state, call, transcript, reason=reason, seconds=seconds)
    finally:
        state.call_finished(call.call_sid)


async def _finish(
    websocket: WebSocket,
    state: VoiceState,
    call: LiveCall,
    transcript: Transcript,
    *,
    reason: str,
    seconds: float,
) -> None:
    words = _closing_words(reason, call.profile)
    if words is not None:
        await state.control.say_and_hang_up(call.call_sid, words, language=call.language)
    elif reason == "assistant_hung_up":
        # Nothing follows <Connect> in our TwiML: closing the stream ends the call.
        await websocket.close()
    log.info("call_bridged", ended_by=reason, seconds=round(seconds, 1))
    state.metrics.ended.labels(reason).inc()
    await transcript.close()
    try:
        await state.calls.end(
            call_sid=call.call_sid, details={"reason": reason, "bridged_seconds": round(seconds)}
        )
    except DATABASE_ERRORS as exc:
        log.error("call_end_not_recorded", error=type(exc).__name__)
