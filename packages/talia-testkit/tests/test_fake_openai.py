"""The fake OpenAI, driven through the real `openai` SDK over HTTP."""

from collections.abc import AsyncIterator

import openai
import pytest
from openai import AsyncOpenAI

from talia_testkit.fake_openai import FakeOpenAI, ToolCall, Turn


@pytest.fixture
async def client(fake_openai: FakeOpenAI) -> AsyncIterator[AsyncOpenAI]:
    async with AsyncOpenAI(base_url=fake_openai.base_url, api_key="sk-test", max_retries=2) as sdk:
        yield sdk


async def test_streamed_deltas_join_into_the_scripted_text(
    fake_openai: FakeOpenAI, client: AsyncOpenAI
) -> None:
    fake_openai.add_turns(Turn(text="Hola, ¿en qué te ayudo?", deltas=4))
    conversation = await client.conversations.create(metadata={"talia": "1"})

    stream = await client.responses.create(
        model="gpt-test",
        conversation=conversation.id,
        instructions="test instructions",
        input=[{"role": "user", "content": "hola"}],
        stream=True,
    )
    deltas = [event.delta async for event in stream if event.type == "response.output_text.delta"]

    assert len(deltas) == 4
    assert "".join(deltas) == "Hola, ¿en qué te ayudo?"
    sent = fake_openai.requests("/v1/responses")[0].body
    assert (sent["conversation"], sent["instructions"]) == (conversation.id, "test instructions")
    assert sent["stream"] is True


async def test_a_function_call_round_trip(fake_openai: FakeOpenAI, client: AsyncOpenAI) -> None:
    fake_openai.add_turns(
        Turn(tool_call=ToolCall("guardar_lead", {"nombre": "Ana"})), Turn(text="Gracias")
    )

    first = await client.responses.create(model="m", input="me llamo Ana")
    call = first.output[0]
    assert call.type == "function_call"
    second = await client.responses.create(
        model="m",
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "ok"}],
    )

    assert (call.name, call.arguments) == ("guardar_lead", '{"nombre": "Ana"}')
    assert second.output_text == "Gracias"


async def test_a_429_is_retried_by_the_sdk(fake_openai: FakeOpenAI, client: AsyncOpenAI) -> None:
    fake_openai.add_turns(Turn(status=429), Turn(text="ok"))

    response = await client.responses.create(model="m", input="hola")

    assert response.output_text == "ok"
    assert len(fake_openai.requests("/v1/responses")) == 2


async def test_a_server_down_for_good_exhausts_the_retries(
    fake_openai: FakeOpenAI, client: AsyncOpenAI
) -> None:
    fake_openai.add_turns(*[Turn(status=500)] * 3)

    with pytest.raises(openai.InternalServerError):
        await client.responses.create(model="m", input="hola")

    assert len(fake_openai.requests("/v1/responses")) == 3


async def test_a_dropped_stream_raises_to_the_caller(
    fake_openai: FakeOpenAI, client: AsyncOpenAI
) -> None:
    fake_openai.add_turns(Turn(text="una respuesta larga", deltas=5, drop_after=2))
    received: list[str] = []

    async def consume() -> None:
        stream = await client.responses.create(model="m", input="hola", stream=True)
        async for event in stream:
            if event.type == "response.output_text.delta":
                received.append(event.delta)

    with pytest.raises(openai.APIError):
        await consume()

    assert len(received) == 2


async def test_conversation_keeps_inputs_and_outputs(
    fake_openai: FakeOpenAI, client: AsyncOpenAI
) -> None:
    conversation = await client.conversations.create()
    fake_openai.add_turns(Turn(text="uno"), Turn(text="dos"))

    await client.responses.create(model="m", conversation=conversation.id, input="a")
    await client.responses.create(model="m", conversation=conversation.id, input="b")

    items = fake_openai.conversation_items(conversation.id)
    assert [item.get("content") for item in items if item.get("role") == "user"] == ["a", "b"]
    assert len([item for item in items if item.get("type") == "message"]) == 2


async def test_transcription_returns_the_scripted_text(
    fake_openai: FakeOpenAI, client: AsyncOpenAI
) -> None:
    fake_openai.add_transcripts("quiero información")

    result = await client.audio.transcriptions.create(
        model="gpt-transcribe", file=("note.ogg", b"OggS" + bytes(100), "audio/ogg")
    )

    assert result.text == "quiero información"
    assert fake_openai.requests("/v1/audio/transcriptions")[0].body["file_bytes"] == 104


async def test_requests_carry_the_api_key(fake_openai: FakeOpenAI, client: AsyncOpenAI) -> None:
    await client.responses.create(model="m", input="hola")

    assert fake_openai.requests()[0].headers["authorization"] == "Bearer sk-test"
