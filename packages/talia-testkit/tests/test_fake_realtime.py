"""The fake Realtime socket, driven through the real openai SDK's `realtime.connect`."""

import asyncio
import base64
from collections.abc import AsyncIterator

import pytest
from openai import AsyncOpenAI
from openai.resources.realtime.realtime import AsyncRealtimeConnection
from websockets.exceptions import ConnectionClosedError

from talia_testkit.fake_openai import CallerSpeech, FakeOpenAI, RealtimeReply, ToolCall

FRAME = bytes(range(160))  # one 20 ms mu-law frame


@pytest.fixture
async def connection(fake_openai: FakeOpenAI) -> AsyncIterator[AsyncRealtimeConnection]:
    async with (
        AsyncOpenAI(base_url=fake_openai.base_url, api_key="sk-test") as client,
        client.realtime.connect(model="gpt-realtime-test") as conn,
    ):
        yield conn


async def _until(conn: AsyncRealtimeConnection, event_type: str) -> list[str]:
    seen: list[str] = []
    async with asyncio.timeout(5):
        async for event in conn:
            seen.append(event.type)
            if event.type == event_type:
                return seen
    return seen


async def test_session_update_is_echoed_and_recorded(
    fake_openai: FakeOpenAI, connection: AsyncRealtimeConnection
) -> None:
    await connection.session.update(
        session={"type": "realtime", "audio": {"input": {"format": {"type": "audio/pcmu"}}}}
    )

    seen = await _until(connection, "session.updated")

    assert seen == ["session.created", "session.updated"]
    update = fake_openai.realtime.events("session.update")[0]
    assert update["session"]["audio"]["input"]["format"] == {"type": "audio/pcmu"}


async def test_audio_frames_arrive_unchanged_and_in_order(
    fake_openai: FakeOpenAI, connection: AsyncRealtimeConnection
) -> None:
    frames = [base64.b64encode(bytes([i]) * 160).decode() for i in range(20)]

    for frame in frames:
        await connection.input_audio_buffer.append(audio=frame)
    await connection.session.update(session={"type": "realtime"})
    await _until(connection, "session.updated")

    assert fake_openai.realtime.audio_in == frames


async def test_caller_speech_is_transcribed_and_answered_with_pcmu_audio(
    fake_openai: FakeOpenAI, connection: AsyncRealtimeConnection
) -> None:
    fake_openai.add_caller_speech(CallerSpeech(after_frames=3, transcript="hola", speech_frames=2))
    fake_openai.add_realtime_replies(RealtimeReply(audio=FRAME * 4, transcript="buenos días"))
    audio = bytearray()
    transcripts: list[str] = []

    for _ in range(6):
        await connection.input_audio_buffer.append(audio=base64.b64encode(FRAME).decode())
    async with asyncio.timeout(5):
        async for event in connection:
            if event.type == "conversation.item.input_audio_transcription.completed":
                transcripts.append(event.transcript)
            elif event.type == "response.output_audio.delta":
                audio.extend(base64.b64decode(event.delta))
            elif event.type == "response.done":
                break

    assert transcripts == ["hola"]
    assert bytes(audio) == FRAME * 4


async def test_a_function_call_comes_back_with_its_arguments(
    fake_openai: FakeOpenAI, connection: AsyncRealtimeConnection
) -> None:
    fake_openai.add_realtime_replies(RealtimeReply(tool_call=ToolCall("colgar", {"motivo": None})))

    await connection.response.create()
    async with asyncio.timeout(5):
        async for event in connection:
            if event.type == "response.function_call_arguments.done":
                call = event
                break

    assert (call.name, call.arguments) == ("colgar", '{"motivo": null}')


async def test_truncate_is_recorded_and_acknowledged(
    fake_openai: FakeOpenAI, connection: AsyncRealtimeConnection
) -> None:
    await connection.conversation.item.truncate(item_id="item_1", content_index=0, audio_end_ms=640)

    seen = await _until(connection, "conversation.item.truncated")

    assert seen[-1] == "conversation.item.truncated"
    assert fake_openai.realtime.events("conversation.item.truncate")[0]["audio_end_ms"] == 640


async def test_caller_speech_during_a_reply_cancels_it(
    fake_openai: FakeOpenAI, connection: AsyncRealtimeConnection
) -> None:
    fake_openai.add_realtime_replies(RealtimeReply(audio=FRAME * 50, chunk_interval=0.02))
    fake_openai.add_caller_speech(CallerSpeech(after_frames=1, transcript="espera"))
    events: list[str] = []

    await connection.response.create()
    async with asyncio.timeout(5):
        async for event in connection:
            events.append(event.type)
            if event.type == "response.output_audio.delta" and events.count(event.type) == 3:
                await connection.input_audio_buffer.append(audio=base64.b64encode(FRAME).decode())
            if event.type == "response.done":
                status = event.response.status
                break

    assert status == "cancelled"
    assert events.count("response.output_audio.delta") < 50
    assert "input_audio_buffer.speech_started" in events


async def test_a_dropped_socket_ends_the_connection(
    fake_openai: FakeOpenAI, connection: AsyncRealtimeConnection
) -> None:
    fake_openai.add_realtime_replies(RealtimeReply(audio=FRAME * 10, drop_after=2))
    deltas: list[str] = []

    async def listen() -> None:
        async with asyncio.timeout(5):
            async for event in connection:
                if event.type == "response.output_audio.delta":
                    deltas.append(event.delta)

    await connection.response.create()
    with pytest.raises(ConnectionClosedError, match="1011"):
        await listen()

    assert len(deltas) == 2
