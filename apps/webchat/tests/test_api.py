"""The webchat API over real HTTP: sessions, idempotent messages, SSE, history."""

import json
import re
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import psycopg
import pytest
from psycopg.types.json import Jsonb
from websockets.sync.client import connect
from websockets.typing import Origin

from talia_testkit.fake_openai import FakeOpenAI, Turn
from talia_testkit.profiles import throwaway_profile
from talia_testkit.server import serve_app
from talia_testkit.settings import (
    app_settings,
    database_settings,
    logging_settings,
    openai_settings,
    webchat_settings,
)
from talia_webchat.config import Settings
from talia_webchat.main import create_app
from talia_webchat.tokens import SessionTokens

ORIGIN = "https://shop.example"


@dataclass
class Chat:
    http: httpx.Client
    fake: FakeOpenAI
    database_url: str
    _token: str | None = None

    def start_session(self) -> dict[str, Any]:
        response = self.http.post("/api/webchat/sessions", headers={"Origin": ORIGIN})
        assert response.status_code == 201, response.text
        session: dict[str, Any] = response.json()
        return session

    def send(self, token: str, client_message_id: str, text: str, **headers: str) -> httpx.Response:
        return self.http.post(
            "/api/webchat/messages",
            json={"client_message_id": client_message_id, "text": text},
            headers={"Authorization": f"Bearer {token}", **headers},
        )

    def stream(
        self, token: str, client_message_id: str, text: str
    ) -> AbstractContextManager[httpx.Response]:
        """The same message over server-sent events: the response, to read as it comes."""
        return self.http.stream(
            "POST",
            "/api/webchat/messages",
            json={"client_message_id": client_message_id, "text": text},
            headers={"Authorization": f"Bearer {token}", "Accept": "text/event-stream"},
        )

    def session_token(self) -> str:
        """One session's token, opened on first use and kept for the test."""
        if self._token is None:
            self._token = str(self.start_session()["session_token"])
        return self._token

    def rows(self, query: str, *params: object) -> list[Any]:
        """Rows of a query on the test database."""
        with psycopg.connect(self.database_url) as conn:
            return conn.execute(query, params).fetchall()

    def count(self, table: str) -> int:
        with psycopg.connect(self.database_url) as conn:
            row = conn.execute(f"select count(*) from public.{table}").fetchone()  # noqa: S608  # test-chosen table name
        return int(row[0]) if row else 0


def save_profile(database_url: str, **changes: Any) -> None:
    """Store a throwaway `default` profile (the app's TALIA_ASSISTANT)."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        profile = throwaway_profile(**{"key": "default", **changes})
        conn.execute("select public.guardar_asistente('default', %s)", (Jsonb(profile),))


def chat_settings(
    database_url: str,
    fake: FakeOpenAI,
    *,
    trusted_proxies: tuple[str, ...] = (),
    **webchat: Any,
) -> Settings:
    """Settings for a webchat app on the test database and the fake model."""
    return Settings(
        app=app_settings(trusted_proxies=trusted_proxies),
        database=database_settings(database_url),
        logging=logging_settings(),
        webchat=webchat_settings(**webchat),
        openai=openai_settings(fake.base_url),
    )


@contextmanager
def serve_chat(
    database_url: str, fake: FakeOpenAI, *, trusted_proxies: tuple[str, ...] = (), **webchat: Any
) -> Iterator[Chat]:
    save_profile(database_url)
    settings = chat_settings(database_url, fake, trusted_proxies=trusted_proxies, **webchat)
    with serve_app(create_app(settings)) as server, httpx.Client(base_url=server.http_url) as http:
        yield Chat(http, fake, database_url)


@pytest.fixture
def chat(database_url: str, fake_openai: FakeOpenAI) -> Iterator[Chat]:
    with serve_chat(database_url, fake_openai, max_text_chars=200) as served:
        yield served


def test_session_from_an_allowed_origin_gets_a_token(chat: Chat) -> None:
    session = chat.start_session()

    # A signed token of this conversation (claims, then signature).
    tokens = SessionTokens(webchat_settings().session_secret, ttl_seconds=60)
    assert (
        str(tokens.verify(session["session_token"]).conversacion_id) == session["conversation_id"]
    )
    assert session["conversation_id"]
    assert chat.count("conversaciones") == 1


def test_a_new_session_has_its_openai_conversation_before_its_first_message(
    chat: Chat,
) -> None:
    token = chat.start_session()["session_token"]
    for _ in range(50):  # created in the background, right after the session
        if chat.fake.requests("/v1/conversations"):
            break
        time.sleep(0.05)
    created = chat.fake.requests("/v1/conversations")

    chat.send(token, "c-1", "hola")

    assert len(created) == 1
    [asked] = chat.fake.requests("/v1/responses")
    assert chat.fake.requests("/v1/conversations") == created  # the reply made none
    assert chat.fake.conversation_items(asked.body["conversation"])  # and used that one


def test_session_from_another_origin_is_refused(chat: Chat) -> None:
    response = chat.http.post("/api/webchat/sessions", headers={"Origin": "https://evil.example"})

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "origin_not_allowed"
    assert chat.count("conversaciones") == 0


def test_a_message_is_stored_and_answered(chat: Chat) -> None:
    token = chat.start_session()["session_token"]
    chat.fake.add_turns(Turn(text="¡Hola! ¿En qué te ayudo?"))

    response = chat.send(token, "c-1", "hola")

    body = response.json()
    assert response.status_code == 200
    assert body["message"]["text"] == "hola"
    assert body["reply"]["message"]["text"] == "¡Hola! ¿En qué te ayudo?"
    assert body["reply"]["message"]["reply_to"] == body["message"]["id"]


def test_the_same_client_message_id_twice_makes_one_message_and_one_reply(chat: Chat) -> None:
    token = chat.start_session()["session_token"]
    chat.fake.add_turns(Turn(text="primera"), Turn(text="segunda"))

    first = chat.send(token, "c-1", "hola").json()
    retry = chat.send(token, "c-1", "hola").json()

    assert retry["message"]["id"] == first["message"]["id"]
    assert retry["reply"]["message"] == first["reply"]["message"]
    assert len(chat.fake.requests("/v1/responses")) == 1
    assert chat.count("mensajes") == 2


def test_streamed_deltas_join_into_the_stored_reply(chat: Chat) -> None:
    token = chat.start_session()["session_token"]
    chat.fake.add_turns(Turn(text="Tenemos envíos a todo el país.", deltas=4))
    events: list[tuple[str, Any]] = []

    with chat.stream(token, "c-1", "¿envíos?") as response:
        name = ""
        for line in response.iter_lines():
            if line.startswith("event: "):
                name = line.removeprefix("event: ")
            elif line.startswith("data: "):
                events.append((name, json.loads(line.removeprefix("data: "))))

    names = [name for name, _ in events]
    deltas = "".join(data["text"] for name, data in events if name == "delta")
    done = events[-1][1]
    assert names[0] == "ack"
    assert names[-1] == "done"
    assert names.count("delta") == 4
    assert deltas == done["message"]["text"] == "Tenemos envíos a todo el país."


def test_a_visitor_who_leaves_mid_stream_finds_the_whole_reply_stored(chat: Chat) -> None:
    token = chat.start_session()["session_token"]
    reply = "Una respuesta que tarda en llegar entera."
    chat.fake.add_turns(Turn(text=reply, deltas=8, delta_delay=0.1))

    with chat.stream(token, "c-1", "hola") as response:
        for line in response.iter_lines():
            if line == "event: delta":
                break  # the visitor closes the page after the first piece
    history: list[str] = []
    for _ in range(50):
        messages = chat.http.get(
            "/api/webchat/messages", headers={"Authorization": f"Bearer {token}"}
        ).json()["messages"]
        history = [m["text"] for m in messages]
        if len(history) == 2:
            break
        time.sleep(0.1)

    assert history == ["hola", reply]


def test_history_after_an_id_returns_only_later_messages_in_order(chat: Chat) -> None:
    token = chat.start_session()["session_token"]
    first = chat.send(token, "c-1", "uno").json()
    chat.send(token, "c-2", "dos")

    response = chat.http.get(
        "/api/webchat/messages",
        params={"after": first["reply"]["message"]["id"]},
        headers={"Authorization": f"Bearer {token}"},
    )

    texts = [m["text"] for m in response.json()["messages"]]
    assert texts[0] == "dos"
    assert len(texts) == 2


def test_a_session_sees_only_its_own_conversation(chat: Chat) -> None:
    mine = chat.start_session()["session_token"]
    other = chat.start_session()["session_token"]
    chat.send(other, "c-1", "secreto de otra persona")

    response = chat.http.get("/api/webchat/messages", headers={"Authorization": f"Bearer {mine}"})

    assert response.json() == {"messages": []}


def test_forged_token_is_refused_and_stores_nothing(chat: Chat) -> None:
    token = chat.start_session()["session_token"]
    claims, signature = token.rsplit(".", 1)
    forged = f"{claims}.{signature[::-1]}"

    response = chat.send(forged, "c-1", "hola")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"
    assert chat.count("mensajes") == 0


def test_expired_token_is_refused(chat: Chat) -> None:
    session = chat.start_session()
    tokens = SessionTokens(webchat_settings().session_secret, ttl_seconds=60)
    expired, _ = tokens.issue(session["conversation_id"], now=time.time() - 3600)

    response = chat.send(expired, "c-1", "hola")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "session_expired"


def test_token_of_a_forgotten_conversation_finds_nothing(chat: Chat) -> None:
    session = chat.start_session()
    with psycopg.connect(chat.database_url, autocommit=True) as conn:
        conn.execute(
            "select public.olvidar_contacto(contacto_id) from public.conversaciones"
            " where conversacion_id = %s",
            (session["conversation_id"],),
        )

    response = chat.send(session["session_token"], "c-1", "hola")

    assert response.status_code == 404


def test_oversize_text_is_refused_with_413(chat: Chat) -> None:
    token = chat.start_session()["session_token"]

    response = chat.send(token, "c-1", "a" * 201)

    assert response.status_code == 413
    assert chat.count("mensajes") == 0


def test_missing_token_is_refused(chat: Chat) -> None:
    response = chat.http.get("/api/webchat/messages")

    assert response.status_code == 401


@pytest.fixture
def strict_chat(database_url: str, fake_openai: FakeOpenAI) -> Iterator[Chat]:
    with serve_chat(
        database_url, fake_openai, session_messages_per_minute=2, ip_sessions_per_minute=3
    ) as served:
        yield served


def test_too_many_messages_in_a_session_get_429_with_retry_after(strict_chat: Chat) -> None:
    token = strict_chat.start_session()["session_token"]

    statuses = [strict_chat.send(token, f"c-{i}", "hola").status_code for i in range(2)]
    limited = strict_chat.send(token, "c-3", "hola")

    assert statuses == [200, 200]
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) >= 1
    assert limited.json()["error"]["code"] == "rate_limited"


def test_too_many_new_sessions_from_one_ip_get_429(strict_chat: Chat) -> None:
    for _ in range(3):
        strict_chat.start_session()

    response = strict_chat.http.post("/api/webchat/sessions", headers={"Origin": ORIGIN})

    assert response.status_code == 429
    assert "Retry-After" in response.headers


def test_a_handed_off_conversation_gets_the_profile_notice_and_no_reply(chat: Chat) -> None:
    save_profile(
        chat.database_url,
        fallback={"default": "test fallback", "handoff": "test handoff notice"},
    )
    session = chat.start_session()
    with psycopg.connect(chat.database_url, autocommit=True) as conn:
        conn.execute("select public.marcar_handoff(%s)", (session["conversation_id"],))

    reply = chat.send(session["session_token"], "c-1", "¿hola?").json()["reply"]

    assert reply == {
        "message": None,
        "fallback": False,
        "handed_off": True,
        "notice": "test handoff notice",
    }
    assert chat.fake.requests("/v1/responses") == []


def test_a_huge_unauthenticated_body_is_refused_without_being_read(chat: Chat) -> None:
    def endless() -> Iterator[bytes]:
        for _ in range(1000):  # 1 GB on offer; a chunked body declares no length
            yield b" " * 1_000_000

    chunked = chat.http.post(
        "/api/webchat/messages",
        headers={"Content-Type": "application/json", "Authorization": "Bearer x"},
        content=endless(),
    )

    assert chunked.status_code == 413
    assert chunked.json()["error"]["code"] == "payload_too_large"
    assert chat.count("conversaciones") == 0


@pytest.mark.parametrize("proxy", ["trusted", "untrusted"])
def test_a_forwarded_for_written_by_the_client_does_not_escape_the_per_ip_limit(
    database_url: str, fake_openai: FakeOpenAI, proxy: str
) -> None:
    trusted = ("127.0.0.1",) if proxy == "trusted" else ()
    with serve_chat(
        database_url, fake_openai, trusted_proxies=trusted, ip_sessions_per_minute=2
    ) as chat:

        def new_session(forwarded_for: str) -> int:
            headers = {"Origin": ORIGIN, "X-Forwarded-For": forwarded_for}
            return chat.http.post("/api/webchat/sessions", headers=headers).status_code

        # One visitor writes a new leftmost address each time; the proxy appends the real one.
        spoofing = [new_session(f"10.0.0.{n}, 203.0.113.7") for n in range(3)]
        another_visitor = new_session("198.51.100.9")

    assert spoofing == [201, 201, 429]
    # Behind a trusted proxy each visitor has a limit of their own; from an untrusted peer
    # the header is ignored and every request counts against that peer's address.
    assert another_visitor == (201 if proxy == "trusted" else 429)


def test_metrics_count_model_replies_by_outcome_and_open_sockets(chat: Chat) -> None:
    token = chat.start_session()["session_token"]
    chat.fake.add_turns(Turn(text="hola"), Turn(status=400))  # a 400 is not retried: fallback
    chat.send(token, "c-1", "hola")
    chat.send(token, "c-2", "¿y ahora?")
    url = str(chat.http.base_url).replace("http://", "ws://") + "/api/webchat/ws"
    with connect(url, origin=Origin(ORIGIN), open_timeout=5) as socket:
        socket.send(json.dumps({"type": "auth", "token": token}))
        socket.send(json.dumps({"type": "ping"}))
        while json.loads(socket.recv(timeout=5))["type"] != "pong":
            pass
        metrics = chat.http.get("/metrics").text

    def value(series: str) -> float:
        found = re.search(rf"^{re.escape(series)} (\S+)$", metrics, re.MULTILINE)
        assert found is not None, series
        return float(found[1])

    assert value('talia_model_replies_total{channel="webchat",outcome="answered"}') == 1
    assert value('talia_model_replies_total{channel="webchat",outcome="fallback"}') == 1
    assert value('talia_model_reply_seconds_count{channel="webchat",outcome="answered"}') == 1
    assert value("talia_webchat_open_sockets") == 1
