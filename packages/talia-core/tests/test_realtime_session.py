"""The Realtime session for a phone call, checked against the SDK's own model."""

from openai.types.realtime.realtime_session_create_request import RealtimeSessionCreateRequest

from talia_core.assistants.profile import parse_profile
from talia_core.assistants.realtime import build_phone_session
from talia_testkit.profiles import throwaway_profile


def _profile_data() -> dict[str, object]:
    return throwaway_profile(
        voice="marin",
        tools=["guardar_lead", "transferir_llamada", "colgar"],
        languages=["es-MX", "en"],
        channels={"voice": {"instructions": "voice instructions"}},
    )


def test_phone_session_speaks_pcmu_both_ways_with_the_profile_voice() -> None:
    session = build_phone_session(parse_profile(_profile_data()))

    parsed = RealtimeSessionCreateRequest.model_validate(session)

    assert parsed.audio is not None
    assert parsed.audio.input is not None
    assert parsed.audio.output is not None
    assert parsed.audio.input.format is not None
    assert parsed.audio.input.format.type == "audio/pcmu"
    assert parsed.audio.output.format is not None
    assert parsed.audio.output.format.type == "audio/pcmu"
    assert parsed.audio.output.voice == "marin"
    assert parsed.model == "gpt-realtime-test"


def test_phone_session_uses_the_voice_overrides_and_first_language() -> None:
    session = build_phone_session(parse_profile(_profile_data()))

    assert session["instructions"] == "voice instructions"
    assert session["audio"]["input"]["transcription"] == {
        "model": "gpt-transcribe",
        "language": "es",
    }


def test_phone_session_offers_the_profile_tools_in_the_flat_shape() -> None:
    session = build_phone_session(parse_profile(_profile_data()))

    tools = list(session["tools"])
    names = [tool["name"] for tool in tools]  # type: ignore[typeddict-item]  # function tools only

    assert names == ["guardar_lead", "transferir_llamada", "colgar"]
    assert all(tool["type"] == "function" for tool in tools)
    assert session["tool_choice"] == "auto"


def test_barge_in_is_left_to_server_vad_interruptions() -> None:
    session = build_phone_session(parse_profile(_profile_data()))

    turn_detection = session["audio"]["input"]["turn_detection"]

    assert turn_detection == {
        "type": "server_vad",
        "create_response": True,
        "interrupt_response": True,
    }
