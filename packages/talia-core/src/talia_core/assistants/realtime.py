"""The GA Realtime `session.update` payload for a phone call, built from a profile."""

from __future__ import annotations

from openai.types.realtime.audio_transcription_param import AudioTranscriptionParam
from openai.types.realtime.realtime_audio_formats_param import AudioPCMU
from openai.types.realtime.realtime_audio_input_turn_detection_param import (
    RealtimeAudioInputTurnDetectionParam,
    SemanticVad,
    ServerVad,
)
from openai.types.realtime.realtime_session_create_request_param import (
    RealtimeSessionCreateRequestParam,
)

from talia_core.assistants.profile import AssistantProfile
from talia_core.assistants.tools import realtime_tools

# Twilio Media Streams carry 8 kHz G.711 mu-law; the Realtime API speaks it natively.
TWILIO_AUDIO_FORMAT: AudioPCMU = {"type": "audio/pcmu"}


def _turn_detection(profile: AssistantProfile) -> RealtimeAudioInputTurnDetectionParam:
    # The server cuts its own reply when the caller speaks; the bridge clears Twilio's buffer.
    if profile.turn_detection == "semantic_vad":
        semantic: SemanticVad = {
            "type": "semantic_vad",
            "create_response": True,
            "interrupt_response": True,
        }
        return semantic
    server: ServerVad = {"type": "server_vad", "create_response": True, "interrupt_response": True}
    return server


def build_phone_session(profile: AssistantProfile) -> RealtimeSessionCreateRequestParam:
    """Session for a Twilio call: pcmu both ways, the profile's voice, VAD and tools."""
    voice = profile.for_channel("voice")
    transcription: AudioTranscriptionParam = {"model": voice.transcription_model}
    if voice.languages:
        transcription["language"] = voice.languages[0].split("-")[0]
    session: RealtimeSessionCreateRequestParam = {
        "type": "realtime",
        "model": voice.realtime_model,
        "instructions": voice.instructions,
        "output_modalities": ["audio"],
        "audio": {
            "input": {
                "format": TWILIO_AUDIO_FORMAT,
                "turn_detection": _turn_detection(voice),
                "transcription": transcription,
            },
            "output": {"format": TWILIO_AUDIO_FORMAT, "voice": voice.voice},
        },
    }
    if voice.tools:
        session["tools"] = [*realtime_tools(voice.tools)]
        session["tool_choice"] = "auto"
    return session
