"""What the WhatsApp tests share: settings, Twilio's forms, and a running app to post to."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import psycopg
from psycopg.types.json import Jsonb

from talia_testkit.fake_openai import FakeOpenAI
from talia_testkit.fake_twilio import FakeTwilio
from talia_testkit.profiles import throwaway_profile
from talia_testkit.settings import (
    TEST_PUBLIC_BASE_URL,
    TEST_WHATSAPP_FROM,
    app_settings,
    database_settings,
    logging_settings,
    openai_settings,
    twilio_settings,
)
from talia_testkit.signing import TwilioSigner
from talia_whatsapp.config import Settings, WhatsAppSettings

PUBLIC = TEST_PUBLIC_BASE_URL
WEBHOOK = "/api/whatsapp/webhook"
STATUS = "/api/whatsapp/status"
CUSTOMER = "whatsapp:+34600111222"


def whatsapp_settings(
    database_url: str,
    openai_base_url: str,
    twilio_base_url: str,
    *,
    pool_min_size: int = 1,
    twilio_timeout_seconds: float = 10.0,
    **whatsapp: Any,
) -> Settings:
    """Settings on the test database and the fakes, with quick jobs."""
    values: dict[str, Any] = {
        "debounce_ms": 100,
        "poll_seconds": 0.1,
        "heartbeat_seconds": 0.5,
        "stalled_after_seconds": 2.0,
        **whatsapp,
    }
    return Settings(
        app=app_settings(public_base_url=PUBLIC),
        database=database_settings(database_url, pool_min_size=pool_min_size),
        logging=logging_settings(),
        twilio=twilio_settings(
            twilio_base_url,
            whatsapp_from=TEST_WHATSAPP_FROM,
            timeout_seconds=twilio_timeout_seconds,
        ),
        openai=openai_settings(openai_base_url),
        whatsapp=WhatsAppSettings(_env_file=None, **values),
    )


def save_profile(database_url: str, **changes: Any) -> None:
    """Store the throwaway `default` profile (fallback texts included)."""
    profile = throwaway_profile(
        **{
            "key": "default",
            "fallback": {"default": "test fallback", "unsupported_media": "test no media"},
            **changes,
        }
    )
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("select public.guardar_asistente('default', %s)", (Jsonb(profile),))


_sids = iter(range(1, 10**6))


def message_form(body: str = "hola", *, sid: str | None = None, **fields: str) -> dict[str, str]:
    """The form Twilio posts for an inbound WhatsApp message."""
    return {
        "MessageSid": sid or f"SM{next(_sids):032d}",
        "AccountSid": "AC" + "0" * 32,
        "From": CUSTOMER,
        "To": TEST_WHATSAPP_FROM,
        "Body": body,
        "NumMedia": "0",
        "NumSegments": "1",
        "ProfileName": "Ana",
        "WaId": "34600111222",
        "ApiVersion": "2010-04-01",
        **fields,
    }


def wait_for(condition: Callable[[], object], timeout: float = 10.0) -> None:
    """Poll `condition` until it is truthy, or fail the test."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


@dataclass
class WhatsApp:
    """A running WhatsApp app, the fakes around it, and a signed way to post to it."""

    http: httpx.Client
    signer: TwilioSigner
    fake: FakeOpenAI
    twilio: FakeTwilio
    database_url: str

    def post(self, path: str, form: dict[str, str]) -> httpx.Response:
        """Post `form` signed as Twilio signs it."""
        signature = self.signer.sign(PUBLIC + path, form)
        return self.http.post(path, data=form, headers={"X-Twilio-Signature": signature})

    def send(self, body: str = "hola", **fields: str) -> httpx.Response:
        """The customer writes `body`."""
        return self.post(WEBHOOK, message_form(body, **fields))

    def replies(self) -> list[str]:
        """Bodies the fake Twilio was asked to send, in order."""
        return [r.field("Body") or "" for r in self.twilio.sent_messages()]

    def rows(self, query: str, *params: object) -> list[tuple[Any, ...]]:
        """Rows of a query on the test database."""
        with psycopg.connect(self.database_url) as conn:
            return conn.execute(query, params).fetchall()

    def settled(self) -> bool:
        """No reply job waits or runs."""
        pending = self.rows(
            "select count(*) from public.procrastinate_jobs where status in ('todo', 'doing')"
        )
        return pending == [(0,)]
