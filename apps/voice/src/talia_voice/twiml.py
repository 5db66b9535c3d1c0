"""The TwiML the voice app answers Twilio with."""

from __future__ import annotations

from collections.abc import Mapping

from twilio.twiml.voice_response import (
    Connect,
    Dial,
    Hangup,
    Reject,
    Say,
    Stream,
    VoiceResponse,
)


def connect_stream(
    *,
    stream_url: str,
    parameters: Mapping[str, str],
    greeting: str | None,
    language: str | None,
    status_callback: str,
) -> str:
    """Say the greeting, then connect the call to our Media Stream (no query string)."""
    response = VoiceResponse()
    if greeting:
        response.append(Say(greeting, language=language) if language else Say(greeting))
    connect = Connect()
    stream = Stream(url=stream_url, status_callback=status_callback, status_callback_method="POST")
    for name, value in parameters.items():
        stream.parameter(name=name, value=value)
    connect.append(stream)
    response.append(connect)
    return str(response)


def say_and_hang_up(text: str, *, language: str | None) -> str:
    """Tell the caller something, then end the call."""
    response = VoiceResponse()
    response.append(Say(text, language=language) if language else Say(text))
    response.append(Hangup())
    return str(response)


def dial(number: str, *, announcement: str | None, language: str | None) -> str:
    """Optionally announce, then connect the caller to `number`."""
    response = VoiceResponse()
    if announcement:
        response.append(Say(announcement, language=language) if language else Say(announcement))
    response.append(Dial(number))
    return str(response)


def hang_up() -> str:
    """End the call without a word (a webhook that must not connect anything)."""
    response = VoiceResponse()
    response.append(Hangup())
    return str(response)


def reject_busy() -> str:
    """A busy signal, when not even the profile's words can be read."""
    response = VoiceResponse()
    response.append(Reject(reason="busy"))
    return str(response)
