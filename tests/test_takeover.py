"""Takeover across the apps: a staff reply written in the console reaches the customer on
their channel, through that channel's own app, on one PostgreSQL."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from psycopg.types.json import Jsonb
from pydantic import AnyHttpUrl
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Origin

from talia_console.config import ConsoleSettings, SupabaseAuthSettings
from talia_console.config import Settings as ConsoleAppSettings
from talia_console.main import create_app as create_console
from talia_core.webhooks import WebhookSettings
from talia_testkit.fake_openai import FakeOpenAI
from talia_testkit.fake_supabase_auth import run_fake_supabase_auth
from talia_testkit.fake_twilio import FakeTwilio
from talia_testkit.processes import start_python
from talia_testkit.profiles import throwaway_profile
from talia_testkit.server import serve_app
from talia_testkit.settings import (
    TEST_WHATSAPP_FROM,
    app_settings,
    database_settings,
    logging_settings,
    openai_settings,
    twilio_settings,
)
from talia_testkit.signing import TwilioSigner
from talia_whatsapp.config import Settings as WhatsAppAppSettings
from talia_whatsapp.config import WhatsAppSettings
from talia_whatsapp.main import create_app as create_whatsapp

CUSTOMER = "whatsapp:+34600999888"
SHOP = "https://shop.example"
PASSWORD = "correct horse battery"


def _wait_for(condition: Callable[[], object], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


@contextmanager
def _console(database_url: str) -> Iterator[tuple[httpx.Client, dict[str, str]]]:
    """The console, and the headers of a signed-in agent."""
    with run_fake_supabase_auth() as auth:
        user = auth.add_user("ana@business.example", PASSWORD)
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute(
                "select public.guardar_agente(%s, 'ana@business.example', 'Ana', 'agent')", (user,)
            )
        settings = ConsoleAppSettings(
            app=app_settings(),
            database=database_settings(database_url),
            logging=logging_settings(),
            supabase=SupabaseAuthSettings(_env_file=None, url=AnyHttpUrl(auth.base_url)),
            console=ConsoleSettings(_env_file=None),
            webhooks=WebhookSettings(_env_file=None),
            # Nothing is forgotten here: no call reaches them.
            openai=openai_settings("http://127.0.0.1:9/v1"),
            twilio=twilio_settings("http://127.0.0.1:9"),
        )
        session = httpx.post(
            f"{auth.base_url}/auth/v1/token?grant_type=password",
            json={"email": "ana@business.example", "password": PASSWORD},
            headers={"apikey": auth.anon_key},
        ).json()
        with (
            serve_app(create_console(settings)) as server,
            httpx.Client(base_url=f"{server.http_url}/api/console") as http,
        ):
            yield http, {"Authorization": f"Bearer {session['access_token']}"}


@contextmanager
def _webchat_process(database_url: str, fake_openai: FakeOpenAI, tmp_path: Path) -> Iterator[str]:
    """The webchat app as a process of its own (uvicorn, as deployed); its base URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = start_python(
        ["-m", "uvicorn", "talia_webchat.main:app", "--port", str(port), "--no-access-log"],
        cwd=tmp_path,
        env={
            "DATABASE_URL": database_url,
            "OPENAI_API_KEY": "sk-test",
            "OPENAI_BASE_URL": fake_openai.base_url,
            "TALIA_WEBCHAT_SESSION_SECRET": "s" * 40,
            "TALIA_WEBCHAT_ALLOWED_ORIGINS": SHOP,
        },
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_for(lambda: _answers(f"{base_url}/ready"), timeout=30)
        yield base_url
    finally:
        process.terminate()
        process.communicate(timeout=30)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def _visitor_socket(base_url: str, token: str, **auth: Any) -> ClientConnection:
    ws_url = base_url.replace("http://", "ws://") + "/api/webchat/ws"
    connection = connect(ws_url, origin=Origin(SHOP), open_timeout=5)
    connection.send(json.dumps({"type": "auth", "token": token, **auth}))
    return connection


def _frames(connection: ClientConnection, count: int, timeout: float = 5) -> list[dict[str, Any]]:
    frames: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while len(frames) < count:
        frames.append(json.loads(connection.recv(timeout=max(0.0, deadline - time.monotonic()))))
    return frames


@contextmanager
def _whatsapp(
    database_url: str, fake_openai: FakeOpenAI, fake_twilio: FakeTwilio
) -> Iterator[httpx.Client]:
    profile = throwaway_profile(key="default")
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("select public.guardar_asistente('default', %s)", (Jsonb(profile),))
    settings = WhatsAppAppSettings(
        app=app_settings(),
        database=database_settings(database_url),
        logging=logging_settings(),
        twilio=twilio_settings(fake_twilio.base_url, whatsapp_from=TEST_WHATSAPP_FROM),
        openai=openai_settings(fake_openai.base_url),
        whatsapp=WhatsAppSettings(_env_file=None, debounce_ms=100, poll_seconds=0.1),
    )
    with (
        serve_app(create_whatsapp(settings)) as server,
        httpx.Client(base_url=server.http_url) as http,
    ):
        yield http


def _customer_writes(
    http: httpx.Client, signer: TwilioSigner, body: str, sid: str, **form: Any
) -> None:
    fields = {
        "MessageSid": sid,
        "AccountSid": "AC" + "0" * 32,
        "From": CUSTOMER,
        "To": TEST_WHATSAPP_FROM,
        "Body": body,
        "NumMedia": "0",
        **form,
    }
    url = "https://talia.example.com/api/whatsapp/webhook"
    response = http.post(
        "/api/whatsapp/webhook",
        data=fields,
        headers={"X-Twilio-Signature": signer.sign(url, fields)},
    )
    assert response.status_code == 200, response.text


def _conversation(database_url: str) -> Any:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "select cv.conversacion_id from public.conversaciones cv"
            " join public.contactos c using (contacto_id) where c.identidad = %s",
            (CUSTOMER,),
        ).fetchone()
    assert row is not None
    return row[0]


@dataclass
class _WhatsAppTakeover:
    """The WhatsApp app and the console on one database, and a signed-in agent."""

    whatsapp: httpx.Client
    console: httpx.Client
    agent: dict[str, str]
    signer: TwilioSigner

    def customer_writes(self, body: str, sid: str) -> None:
        _customer_writes(self.whatsapp, self.signer, body, sid)


@pytest.fixture
def takeover(
    database_url: str,
    fake_openai: FakeOpenAI,
    fake_twilio: FakeTwilio,
    twilio_signer: TwilioSigner,
) -> Iterator[_WhatsAppTakeover]:
    with (
        _whatsapp(database_url, fake_openai, fake_twilio) as whatsapp,
        _console(database_url) as (console, agent),
    ):
        yield _WhatsAppTakeover(whatsapp, console, agent, twilio_signer)


def test_a_whatsapp_agent_reply_goes_out_through_the_reply_job_and_twilio(
    takeover: _WhatsAppTakeover,
    database_url: str,
    fake_openai: FakeOpenAI,
    fake_twilio: FakeTwilio,
) -> None:
    console, agent = takeover.console, takeover.agent
    takeover.customer_writes("quiero hablar con alguien", "SM" + "1" * 32)
    _wait_for(lambda: len(fake_twilio.sent_messages()) == 1)  # the assistant answered
    conversation = _conversation(database_url)
    claimed = console.post(f"/conversations/{conversation}/claim", headers=agent)
    takeover.customer_writes("¿sigue ahí?", "SM" + "2" * 32)

    reply = console.post(
        f"/conversations/{conversation}/reply",
        json={"text": "Hola, soy Ana. Te ayudo yo."},
        headers={**agent, "Idempotency-Key": "first-reply"},
    )
    _wait_for(lambda: len(fake_twilio.sent_messages()) == 2)
    detail = console.get(f"/conversations/{conversation}", headers=agent).json()

    assert claimed.status_code == 200
    assert reply.status_code == 201, reply.text
    sent = fake_twilio.sent_messages()[-1]
    assert (sent.field("To"), sent.field("Body")) == (CUSTOMER, "Hola, soy Ana. Te ayudo yo.")
    # The model was asked once, before the claim: the customer's later message went to Ana.
    assert len(fake_openai.requests("/v1/responses")) == 1
    agent_message = detail["messages"][-1]
    assert agent_message["role"] == "agent"
    assert agent_message["delivery_status"] == "sending"  # Twilio took it; callbacks follow


def test_outside_the_whatsapp_window_a_free_form_reply_is_refused(
    takeover: _WhatsAppTakeover, database_url: str, fake_twilio: FakeTwilio
) -> None:
    console, agent = takeover.console, takeover.agent
    takeover.customer_writes("hola", "SM" + "3" * 32)
    _wait_for(lambda: len(fake_twilio.sent_messages()) == 1)
    conversation = _conversation(database_url)
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "update public.mensajes set created_at = now() - interval '25 hours'"
            " where direccion = 'inbound'"
        )
    detail = console.get(f"/conversations/{conversation}", headers=agent).json()
    reply = console.post(
        f"/conversations/{conversation}/reply", json={"text": "¿Sigues ahí?"}, headers=agent
    )

    assert detail["whatsapp_window"]["open"] is False
    assert reply.status_code == 409
    assert reply.json()["error"]["code"] == "outside_whatsapp_window"
    assert len(fake_twilio.sent_messages()) == 1
    with psycopg.connect(database_url) as conn:
        stored = conn.execute("select count(*) from public.mensajes where rol = 'staff'")
        assert stored.fetchone() == (0,)


def test_an_agent_reply_reaches_the_visitors_socket_in_another_process(
    database_url: str, fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    with (
        _webchat_process(database_url, fake_openai, tmp_path) as webchat,
        _console(database_url) as (console, agent),
    ):
        session = httpx.post(f"{webchat}/api/webchat/sessions", headers={"Origin": SHOP}).json()
        conversation = session["conversation_id"]
        visitor = _visitor_socket(webchat, session["session_token"])
        console.post(f"/conversations/{conversation}/claim", headers=agent)

        sent_at = time.monotonic()
        reply = console.post(
            f"/conversations/{conversation}/reply", json={"text": "Hola, soy Ana"}, headers=agent
        )
        (frame,) = _frames(visitor, 1)
        delivered_in = time.monotonic() - sent_at

        # The visitor's connection drops; Ana writes twice meanwhile; the visitor comes back.
        visitor.close()
        for text in ("¿Sigues ahí?", "Te dejo mi correo"):
            console.post(f"/conversations/{conversation}/reply", json={"text": text}, headers=agent)
        back = _visitor_socket(
            webchat, session["session_token"], last_message_id=frame["message"]["id"]
        )
        missed = _frames(back, 2)
        console.post(f"/conversations/{conversation}/reply", json={"text": "Adiós"}, headers=agent)
        (live,) = _frames(back, 1)
        with pytest.raises(TimeoutError):
            back.recv(timeout=0.5)  # nothing twice
        back.close()

    assert reply.status_code == 201
    assert frame == {
        "type": "message",
        "message": {
            **frame["message"],
            "role": "agent",
            "text": "Hola, soy Ana",
            "author": {"name": "Ana"},
        },
    }
    assert delivered_in < 1.0
    assert [f["message"]["text"] for f in missed] == ["¿Sigues ahí?", "Te dejo mi correo"]
    assert live["message"]["text"] == "Adiós"
