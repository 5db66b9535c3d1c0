"""A console app served over real HTTP, a fake Supabase Auth, staff and conversations."""

from __future__ import annotations

import contextlib
import json
import queue
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import httpx
import psycopg
from psycopg.types.json import Jsonb
from pydantic import AnyHttpUrl

from talia_console.config import ConsoleSettings, Settings, SupabaseAuthSettings
from talia_console.main import create_app
from talia_core.webhooks import WebhookSettings
from talia_testkit.fake_openai import FakeOpenAI, run_fake_openai
from talia_testkit.fake_supabase_auth import FakeSupabaseAuth, run_fake_supabase_auth
from talia_testkit.fake_twilio import FakeTwilio, run_fake_twilio
from talia_testkit.plugin import TEST_ACCOUNT_SID, TEST_AUTH_TOKEN
from talia_testkit.server import serve_app
from talia_testkit.settings import (
    app_settings,
    database_settings,
    logging_settings,
    openai_settings,
    twilio_settings,
)

# Receivers in tests listen on 127.0.0.1, and retries come quickly.
QUICK_WEBHOOKS: dict[str, Any] = {
    "allow_private_targets": True,
    "retry_seconds": (0.2, 0.3, 0.3, 0.3, 0.3),
    "poll_seconds": 0.05,
    "timeout_seconds": 2.0,
}


def console_settings(
    database_url: str,
    supabase_url: str,
    *,
    openai_url: str | None = None,
    twilio_url: str | None = None,
    webhooks: dict[str, Any] | None = None,
    **supabase: Any,
) -> Settings:
    """Console settings against a database, a (fake) Supabase project, and fake OpenAI and
    Twilio APIs."""
    return Settings(
        app=app_settings(),
        database=database_settings(database_url),
        logging=logging_settings(),
        supabase=SupabaseAuthSettings(_env_file=None, url=AnyHttpUrl(supabase_url), **supabase),
        console=ConsoleSettings(
            _env_file=None, page_size=3, erasure_retry_seconds=0.2, erasure_poll_seconds=0.05
        ),
        webhooks=WebhookSettings(_env_file=None, **(QUICK_WEBHOOKS | (webhooks or {}))),
        openai=openai_settings(openai_url),
        twilio=twilio_settings(twilio_url),
    )


@dataclass
class Console:
    """The console's API, the project's Auth, and the database behind them."""

    http: httpx.Client
    auth: FakeSupabaseAuth
    database_url: str
    openai: FakeOpenAI
    twilio: FakeTwilio
    page_url: str = ""
    tokens: dict[UUID, str] = field(default_factory=dict)
    admin: UUID | None = None

    def staff(self, name: str, *, role: str = "agent", active: bool = True) -> UUID:
        """A Supabase user who is staff, signed in through the project's password grant."""
        email = f"{name.lower()}@business.example"
        user_id = self.auth.add_user(email, "correct horse battery")
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            conn.execute(
                "select public.guardar_agente(%s, %s, %s, %s)", (user_id, email, name, role)
            )
            if not active:
                conn.execute("select public.desactivar_agente(%s)", (email,))
        self.tokens[user_id] = self.sign_in(email, "correct horse battery")
        return user_id

    def an_agent(self) -> UUID:
        """A signed-in agent: the first one, made on first use."""
        return next(iter(self.tokens), None) or self.staff("Ana")

    def an_admin(self) -> UUID:
        """A signed-in admin, made on first use."""
        if self.admin is None:
            self.admin = self.staff("Alba", role="admin")
        return self.admin

    def sign_in(self, email: str, password: str) -> str:
        """An access token from the project's Auth, as the console page gets one."""
        response = httpx.post(
            f"{self.auth.base_url}/auth/v1/token",
            params={"grant_type": "password"},
            json={"email": email, "password": password},
            headers={"apikey": self.auth.anon_key},
        )
        assert response.status_code == 200, response.text
        token: str = response.json()["access_token"]
        return token

    def as_(self, agent: UUID) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[agent]}"}

    def get(self, agent: UUID, path: str, **params: Any) -> httpx.Response:
        return self.http.get(f"/api/console{path}", params=params, headers=self.as_(agent))

    def post(self, agent: UUID, path: str, body: Any = None, **headers: str) -> httpx.Response:
        return self.http.post(
            f"/api/console{path}", json=body, headers={**self.as_(agent), **headers}
        )

    def conversation(
        self,
        channel: str = "webchat",
        *,
        texts: tuple[str, ...] = ("hola",),
        name: str | None = None,
        identity: str | None = None,
        hours_ago: float = 0,
    ) -> UUID:
        """A conversation with a customer's messages, `hours_ago` old."""
        identity = identity or f"{channel}-{uuid.uuid4().hex[:8]}"
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            row = conn.execute(
                "select conversacion_id, contacto_id"
                " from public.abrir_conversacion(%s, %s, 'default')",
                (channel, identity),
            ).fetchone()
            assert row is not None
            conversacion_id, contacto_id = row
            if name is not None:
                conn.execute(
                    "update public.contactos set nombre = %s where contacto_id = %s",
                    (name, contacto_id),
                )
            for text in texts:
                conn.execute(
                    "insert into public.mensajes (conversacion_id, canal, direccion, rol,"
                    " contenido, metadata, created_at)"
                    " values (%s, %s, 'inbound', 'user', %s, %s,"
                    "  now() - make_interval(secs => %s))",
                    (conversacion_id, channel, text, Jsonb({}), hours_ago * 3600),
                )
        result: UUID = conversacion_id
        return result

    def hand_off(self, conversacion_id: UUID) -> None:
        """The assistant asks for a person, as `solicitar_humano` does."""
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            conn.execute(
                "select public.marcar_handoff(%s, 'asked for a person')", (conversacion_id,)
            )

    def rows(self, query: str, *params: Any) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.database_url) as conn:
            return conn.execute(query, params).fetchall()


def wait_for(condition: Callable[[], Any], timeout: float = 10.0) -> Any:
    """`condition()`'s first truthy result, asked every 50 ms; fails after `timeout` s."""
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)
    return result


@dataclass(frozen=True)
class SentEvent:
    """One server-sent event as a client parses it."""

    event: str
    id: str | None
    data: Any


class FeedReader:
    """`GET /api/console/events` read in a thread, as a browser's stream reader would."""

    def __init__(self, console: Console, headers: dict[str, str]) -> None:
        self._events: queue.Queue[SentEvent | None] = queue.Queue()
        # Reads wait longer than the feed's keepalive interval.
        self._client = httpx.Client(
            base_url=str(console.http.base_url), timeout=httpx.Timeout(10.0, read=30.0)
        )
        self._response = self._client.send(
            self._client.build_request("GET", "/api/console/events", headers=headers),
            stream=True,
        )
        self.status = self._response.status_code
        self.ended = threading.Event()
        self.received: list[SentEvent] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        fields: dict[str, str] = {}
        try:
            for line in self._response.iter_lines():
                if line.startswith(":"):
                    continue  # a keepalive
                if line:
                    name, _, value = line.partition(": ")
                    fields[name] = value
                    continue
                if "event" in fields:
                    data = json.loads(fields["data"])
                    self._events.put(SentEvent(fields["event"], fields.get("id"), data))
                fields = {}
        except httpx.HTTPError:
            pass  # closed by `close`
        finally:
            self.ended.set()
            self._events.put(None)

    def next(self, timeout: float = 5.0) -> SentEvent:
        """The next event; fails after `timeout` seconds or when the stream ended."""
        event = self._events.get(timeout=timeout)
        assert event is not None, "the stream ended"
        self.received.append(event)
        return event

    def until(self, wanted: Callable[[SentEvent], bool], timeout: float = 5.0) -> SentEvent:
        """The first event from now on that is `wanted`; those before it stay in `received`."""
        while True:
            event = self.next(timeout)
            if wanted(event):
                return event

    def close(self) -> None:
        """Hang up, as a closed browser tab does (closing the response alone would not
        wake the reading thread, nor tell the server)."""
        network = self._response.extensions["network_stream"]
        with contextlib.suppress(OSError):
            network.get_extra_info("socket").shutdown(socket.SHUT_RDWR)
        self.ended.wait(5)
        self._response.close()
        self._client.close()


@contextmanager
def reading_feed(
    console: Console, agent: UUID, last_event_id: str | None = None
) -> Iterator[FeedReader]:
    """An agent's open feed, once it said `ready`."""
    headers = console.as_(agent)
    if last_event_id is not None:
        headers["Last-Event-ID"] = last_event_id
    reader = FeedReader(console, headers)
    try:
        assert reader.status == 200
        assert reader.next().event == "ready"
        yield reader
    finally:
        reader.close()


@contextmanager
def running_console(
    database_url: str, *, webhooks: dict[str, Any] | None = None, **supabase: Any
) -> Iterator[Console]:
    """A fake Supabase project, fake OpenAI and Twilio APIs, and the console app."""
    with (
        run_fake_supabase_auth() as auth,
        run_fake_openai() as openai,
        run_fake_twilio(TEST_ACCOUNT_SID, TEST_AUTH_TOKEN) as twilio,
    ):
        settings = console_settings(
            database_url,
            auth.base_url,
            openai_url=openai.base_url,
            twilio_url=twilio.base_url,
            webhooks=webhooks,
            **{"anon_key": auth.anon_key, **supabase},
        )
        with (
            serve_app(create_app(settings)) as server,
            httpx.Client(base_url=server.http_url, timeout=10) as http,
        ):
            yield Console(
                http=http,
                auth=auth,
                database_url=database_url,
                openai=openai,
                twilio=twilio,
                page_url=f"{server.http_url}/console/",
            )
