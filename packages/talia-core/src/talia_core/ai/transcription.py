"""Speech to text for voice notes, through the transcriptions endpoint."""

from __future__ import annotations

from openai import AsyncOpenAI

# gpt-4o-transcribe and whisper-1 shut down on 2027-02-26; this is their successor.
DEFAULT_TRANSCRIPTION_MODEL = "gpt-transcribe"


async def transcribe_audio(
    client: AsyncOpenAI,
    *,
    audio: bytes,
    filename: str,
    content_type: str,
    model: str = DEFAULT_TRANSCRIPTION_MODEL,
    language: str | None = None,
) -> str:
    """The text spoken in `audio` (ogg/opus voice notes are accepted as they are)."""
    if language:
        result = await client.audio.transcriptions.create(
            model=model, file=(filename, audio, content_type), language=language
        )
    else:
        result = await client.audio.transcriptions.create(
            model=model, file=(filename, audio, content_type)
        )
    return result.text.strip()
