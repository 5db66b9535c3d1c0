"""Voice notes become text through the transcriptions endpoint."""

from openai import AsyncOpenAI

from talia_core.ai.transcription import transcribe_audio
from talia_testkit.fake_openai import FakeOpenAI


async def test_voice_note_is_sent_whole_and_its_text_returned(fake_openai: FakeOpenAI) -> None:
    fake_openai.add_transcripts("  quiero saber el horario  ")
    audio = b"OggS" + bytes(2048)

    async with AsyncOpenAI(base_url=fake_openai.base_url, api_key="sk-test") as client:
        text = await transcribe_audio(
            client, audio=audio, filename="nota.ogg", content_type="audio/ogg", language="es"
        )

    request = fake_openai.requests("/v1/audio/transcriptions")[0]
    assert text == "quiero saber el horario"
    assert request.body == {"model": "gpt-transcribe", "file_bytes": len(audio)}
