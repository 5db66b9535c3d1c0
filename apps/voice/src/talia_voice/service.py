"""The call flow: answer a call, open its stream, bridge it to the model, record its end.

The router parses and authorises (Twilio's signatures and frames) and hands plain values
here; what a call goes through, and what is recorded of it, is decided in this module.
"""

from __future__ import annotations

from uuid import UUID

import openai
import psycopg
import structlog
from psycopg_pool import PoolTimeout
from starlette.websockets import WebSocket
from websockets.exceptions import WebSocketException

from talia_core.assistants.profile import AssistantProfile
from talia_core.assistants.realtime import build_phone_session
from talia_voice.bridge import CallBridge, CallLimits
from talia_voice.live_call import LiveCall
from talia_voice.phone_tools import PhoneTools
from talia_voice.playback import Playback
from talia_voice.state import VoiceState
from talia_voice.transcript import Transcript
from talia_voice.twiml import connect_stream, hang_up, reject_busy, say_and_hang_up

log = structlog.stdlib.get_logger("talia.voice")

STREAM_PATH = "/api/voice/stream"
FINAL_CALL_STATUSES = frozenset({"completed", "busy", "failed", "no-answer", "canceled"})
DATABASE_ERRORS = (psycopg.Error, PoolTimeout)
# The Realtime socket could not be opened or was refused.
REALTIME_ERRORS = (OSError, WebSocketException, openai.OpenAIError)


def _language(profile: AssistantProfile) -> str | None:
    return profile.languages[0] if profile.languages else None


def _closing_words(reason: str, profile: AssistantProfile) -> str | None:
    """What Twilio says before hanging up when the call ends for `reason` (None: nothing)."""
    if reason in {"realtime_closed", "realtime_unavailable"}:
        return profile.fallback.default
    if reason in {"max_duration", "silence", "shutdown"}:
        return profile.fallback.goodbye or profile.fallback.default
    return None


async def answer_call(state: VoiceState, *, call_sid: str, caller: str) -> str:
    """The TwiML for a ringing call: connect it to our Media Stream, or say why not."""
    settings = state.settings
    try:
        profile = (await state.registry.get(settings.app.assistant)).for_channel("voice")
    except DATABASE_ERRORS:
        return reject_busy()
    busy = profile.fallback.busy or profile.fallback.default
    if not state.taking_calls:
        log.warning("call_refused", reason="draining" if state.core.draining else "capacity")
        return say_and_hang_up(busy, language=_language(profile))
    try:
        call = await state.calls.register(
            call_sid=call_sid,
            caller=caller,
            assistant=profile.key,
            token_ttl_seconds=settings.calls.stream_token_ttl_seconds,
        )
    except DATABASE_ERRORS:
        return say_and_hang_up(busy, language=_language(profile))
    if not call.armado:
        # A replayed webhook of a call that already streamed or ended: nothing to connect.
        log.warning("call_refused", reason="already_streamed_or_ended")
        return hang_up()
    origin = settings.app.public_origin or ""
    return connect_stream(
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


async def record_status(
    state: VoiceState, *, call_sid: str, status: str, duration_seconds: int | None
) -> None:
    """Record a final status (and its duration) on the call's `call_ended` event."""
    await state.calls.end(
        call_sid=call_sid, details={"status": status, "duration_seconds": duration_seconds}
    )


class StreamRefused(Exception):
    """The stream may not carry a call; the message is the close frame's reason."""


async def open_call(state: VoiceState, *, call_sid: str, stream_sid: str, token: str) -> LiveCall:
    """The call a stream's `start` announces, spending its one-time token.

    Raises StreamRefused when the token is wrong, spent or expired, or when the contact was
    forgotten since `/incoming`.
    """
    conversation_id = await state.calls.spend_stream_token(call_sid=call_sid, token=token)
    if conversation_id is None:
        log.warning("stream_refused", reason="token")
        raise StreamRefused("invalid stream token")
    call = await _live_call(state, conversation_id, call_sid, stream_sid)
    if call is None:
        raise StreamRefused("unknown call")
    return call


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


async def run_call(state: VoiceState, websocket: WebSocket, call: LiveCall) -> None:
    """Bridge the call to the model until it ends, then close it and record how it ended."""
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
