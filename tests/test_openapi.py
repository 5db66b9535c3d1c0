"""When served (TALIA_API_DOCS), each app's OpenAPI document says what its endpoints answer."""

from typing import Any

import pytest
from fastapi import FastAPI

from talia_testkit.settings import (
    app_settings,
    database_settings,
    logging_settings,
    openai_settings,
    twilio_settings,
    webchat_settings,
)
from talia_voice.config import CallSettings
from talia_voice.config import Settings as VoiceSettings
from talia_voice.main import create_app as create_voice
from talia_webchat.config import Settings as WebchatSettings
from talia_webchat.main import create_app as create_webchat
from talia_whatsapp.config import Settings as WhatsAppSettings
from talia_whatsapp.config import WhatsAppSettings as WhatsAppOptions
from talia_whatsapp.main import create_app as create_whatsapp

URL = "postgresql://talia@localhost/talia"  # never connected: the apps are only built


def _common() -> dict[str, Any]:
    return {
        "app": app_settings(api_docs=True),
        "database": database_settings(URL),
        "logging": logging_settings(),
        "openai": openai_settings(),
    }


def _apps() -> dict[str, FastAPI]:
    return {
        "whatsapp": create_whatsapp(
            WhatsAppSettings(
                **_common(),
                twilio=twilio_settings(whatsapp_from="whatsapp:+14155238886"),
                whatsapp=WhatsAppOptions(_env_file=None),
            )
        ),
        "voice": create_voice(
            VoiceSettings(**_common(), twilio=twilio_settings(), calls=CallSettings(_env_file=None))
        ),
        "webchat": create_webchat(WebchatSettings(**_common(), webchat=webchat_settings())),
    }


def _operation(app: FastAPI, path: str) -> dict[str, Any]:
    operation: dict[str, Any] = app.openapi()["paths"][path]["post"]
    return operation


@pytest.mark.parametrize(
    ("app", "path", "required"),
    [
        ("whatsapp", "/api/whatsapp/webhook", ["MessageSid", "From"]),
        ("whatsapp", "/api/whatsapp/status", ["MessageSid", "MessageStatus"]),
        ("voice", "/api/voice/incoming", ["CallSid"]),
        ("voice", "/api/voice/status", ["CallSid", "CallStatus"]),
    ],
)
def test_twilio_webhooks_document_their_signed_form_and_error_statuses(
    app: str, path: str, required: list[str]
) -> None:
    operation = _operation(_apps()[app], path)

    form = operation["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]
    assert form["required"] == required
    assert set(required) <= set(form["properties"])
    assert [p["name"] for p in operation["parameters"]] == ["X-Twilio-Signature"]
    assert {"400", "403", "413", "415", "503"} <= set(operation["responses"])
    error = operation["responses"]["403"]["content"]["application/json"]["schema"]
    assert error == {"$ref": "#/components/schemas/ErrorBody"}


def test_webchat_documents_auth_limits_and_the_event_stream() -> None:
    operation = _operation(_apps()["webchat"], "/api/webchat/messages")

    assert {"401", "404", "413", "422", "429", "503"} <= set(operation["responses"])
    assert "text/event-stream" in operation["responses"]["200"]["content"]
