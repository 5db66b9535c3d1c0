"""What the voice tests share: settings, a profile, and a Twilio-side Media Stream client."""

from __future__ import annotations

import base64
import json
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from talia_testkit.profiles import throwaway_profile
from talia_testkit.settings import (
    app_settings,
    database_settings,
    logging_settings,
    openai_settings,
    twilio_settings,
)
from talia_voice.config import CallSettings, Settings

PUBLIC = "https://talia.example.com"
CALL_SID = "CA" + "a" * 32


def voice_settings(database_url: str, openai_base_url: str | None = None, **calls: Any) -> Settings:
    """Settings for a voice app on the test database, the fake model and the test account."""
    return Settings(
        app=app_settings(public_base_url=PUBLIC),
        database=database_settings(database_url),
        logging=logging_settings(),
        twilio=twilio_settings(),
        openai=openai_settings(openai_base_url),
        calls=CallSettings(_env_file=None, **calls),
    )


def save_voice_profile(database_url: str, **changes: Any) -> None:
    """Store the throwaway `default` profile with voice fields."""
    profile = throwaway_profile(
        **{
            "key": "default",
            "greeting": "test greeting",
            "fallback": {"default": "test fallback", "busy": "test busy"},
            "tools": ["guardar_lead", "transferir_llamada", "colgar"],
            **changes,
        }
    )
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("select public.guardar_asistente('default', %s)", (Jsonb(profile),))


def incoming_form(call_sid: str = CALL_SID, caller: str = "+34600111222") -> dict[str, str]:
    """The form Twilio posts to /incoming for an inbound call."""
    return {
        "CallSid": call_sid,
        "AccountSid": "AC" + "0" * 32,
        "From": caller,
        "To": "+34910000000",
        "CallStatus": "ringing",
        "Direction": "inbound",
        "ApiVersion": "2010-04-01",
    }


def media(payload: bytes, chunk: int, timestamp: int) -> str:
    """A Twilio `media` message carrying mu-law bytes."""
    return json.dumps(
        {
            "event": "media",
            "sequenceNumber": str(chunk + 1),
            "streamSid": "MZ" + "b" * 32,
            "media": {
                "track": "inbound",
                "chunk": str(chunk),
                "timestamp": str(timestamp),
                "payload": base64.b64encode(payload).decode(),
            },
        }
    )


def start(call_sid: str, parameters: dict[str, str]) -> str:
    """The `start` message of a Media Stream with its custom parameters."""
    return json.dumps(
        {
            "event": "start",
            "sequenceNumber": "1",
            "streamSid": "MZ" + "b" * 32,
            "start": {
                "streamSid": "MZ" + "b" * 32,
                "accountSid": "AC" + "0" * 32,
                "callSid": call_sid,
                "tracks": ["inbound"],
                "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
                "customParameters": parameters,
            },
        }
    )


CONNECTED = json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"})
