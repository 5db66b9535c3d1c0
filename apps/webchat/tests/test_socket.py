"""The webchat WebSocket over a real connection: origin, auth, streaming, resume."""

import base64
import json
import os
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect
from websockets.sync.connection import Connection
from websockets.typing import Origin

from talia_testkit.fake_openai import FakeOpenAI, Turn
from talia_testkit.server import serve_app
from talia_testkit.settings import (
    webchat_settings,
)
from talia_webchat.main import create_app
from talia_webchat.tokens import SessionTokens

from .test_api import ORIGIN, Chat, chat_settings, serve_chat


@pytest.fixture
def chat(database_url: str, fake_openai: FakeOpenAI) -> Iterator[Chat]:
    with serve_chat(database_url, fake_openai, max_text_chars=200) as served:
        yield served


def _ws_url(chat: Chat) -> str:
    return str(chat.http.base_url).replace("http://", "ws://") + "/api/webchat/ws"


def _open(chat: Chat, token: str, **auth: Any) -> ClientConnection:
    socket = connect(_ws_url(chat), origin=Origin(ORIGIN), open_timeout=5)
    socket.send(json.dumps({"type": "auth", "token": token, **auth}))
    return socket


def _frames_until(socket: Connection, kind: str) -> list[dict[str, Any]]:
    frames: list[dict[str, Any]] = []
    while True:
        frame = json.loads(socket.recv(timeout=5))
        frames.append(frame)
        if frame["type"] == kind:
            return frames


def test_upgrade_from_a_disallowed_origin_is_refused(chat: Chat) -> None:
    with pytest.raises(InvalidStatus) as caught:
        connect(_ws_url(chat), origin=Origin("https://evil.example"), open_timeout=5)

    assert caught.value.response.status_code == 403


def test_a_bad_token_is_told_and_closed(chat: Chat) -> None:
    with _open(chat, "v1.forged.token") as socket:
        frame = json.loads(socket.recv(timeout=5))
        with pytest.raises(ConnectionClosed) as closed:
            socket.recv(timeout=5)

    assert frame["code"] == "unauthorized"
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4401


def test_deltas_joined_equal_the_stored_reply(chat: Chat) -> None:
    token = chat.start_session()["session_token"]
    chat.fake.add_turns(Turn(text="Abrimos de 9 a 18 h.", deltas=4))

    with _open(chat, token) as socket:
        socket.send(
            json.dumps({"type": "message", "client_message_id": "c-1", "text": "¿horario?"})
        )
        frames = _frames_until(socket, "done")

    kinds = [f["type"] for f in frames]
    deltas = "".join(f["text"] for f in frames if f["type"] == "delta")
    assert kinds[:2] == ["ack", "typing"]
    assert kinds.count("delta") == 4
    assert deltas == frames[-1]["message"]["text"] == "Abrimos de 9 a 18 h."


def test_the_same_client_message_id_twice_makes_one_reply(chat: Chat) -> None:
    token = chat.start_session()["session_token"]
    chat.fake.add_turns(Turn(text="una vez"), Turn(text="dos veces"))
    frame = {"type": "message", "client_message_id": "c-1", "text": "hola"}

    with _open(chat, token) as socket:
        socket.send(json.dumps(frame))
        first = _frames_until(socket, "done")[-1]
        socket.send(json.dumps(frame))
        second = _frames_until(socket, "done")[-1]

    assert first["message"] == second["message"]
    assert len(chat.fake.requests("/v1/responses")) == 1
    assert chat.count("mensajes") == 2


def test_disconnect_mid_reply_then_resume_gets_the_full_reply_once(chat: Chat) -> None:
    token = chat.start_session()["session_token"]
    reply = "Una respuesta que tarda en llegar entera."
    chat.fake.add_turns(Turn(text=reply, deltas=8, delta_delay=0.1))

    with _open(chat, token) as socket:
        socket.send(json.dumps({"type": "message", "client_message_id": "c-1", "text": "hola"}))
        ack = _frames_until(socket, "ack")[-1]
        _frames_until(socket, "delta")
    with _open(chat, token, last_message_id=ack["message"]["id"]) as socket:
        socket.send(json.dumps({"type": "ping"}))
        replayed = _frames_until(socket, "pong")

    messages = [f["message"]["text"] for f in replayed if f["type"] == "message"]
    assert messages == [reply]


def test_bad_json_and_unknown_frames_get_error_frames_not_a_close(chat: Chat) -> None:
    token = chat.start_session()["session_token"]

    with _open(chat, token) as socket:
        socket.send("{not json")
        bad = json.loads(socket.recv(timeout=5))
        socket.send(json.dumps({"type": "dance"}))
        unknown = json.loads(socket.recv(timeout=5))
        socket.send(json.dumps({"type": "ping"}))
        pong = json.loads(socket.recv(timeout=5))

    assert (bad["type"], bad["code"]) == ("error", "bad_json")
    assert (unknown["type"], unknown["code"]) == ("error", "unknown_frame")
    assert pong == {"type": "pong"}


def test_oversize_text_gets_an_error_frame(chat: Chat) -> None:
    token = chat.start_session()["session_token"]

    with _open(chat, token) as socket:
        socket.send(json.dumps({"type": "message", "client_message_id": "c-1", "text": "a" * 201}))
        frame = json.loads(socket.recv(timeout=5))

    assert frame["code"] == "payload_too_large"
    assert chat.count("mensajes") == 0


def test_a_huge_frame_closes_with_1009(chat: Chat) -> None:
    token = chat.start_session()["session_token"]

    with _open(chat, token) as socket:
        socket.send("x" * 10_000)
        with pytest.raises(ConnectionClosed) as closed:
            socket.recv(timeout=5)

    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1009


def test_open_sockets_per_session_are_capped(chat: Chat) -> None:
    token = chat.start_session()["session_token"]
    sockets = [_open(chat, token) for _ in range(3)]
    for opened in sockets:
        opened.send(json.dumps({"type": "ping"}))
        opened.recv(timeout=5)

    with _open(chat, token) as extra, pytest.raises(ConnectionClosed) as closed:
        extra.recv(timeout=5)
    for opened in sockets:
        opened.close()

    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1008


def test_expired_token_is_refused(chat: Chat) -> None:
    session = chat.start_session()
    tokens = SessionTokens(webchat_settings().session_secret, ttl_seconds=60)
    expired, _ = tokens.issue(session["conversation_id"], now=0)

    with _open(chat, expired) as socket:
        frame = json.loads(socket.recv(timeout=5))

    assert frame["code"] == "unauthorized"
    assert "expired" in frame["message"]


def test_heartbeats_close_a_connection_that_stops_answering(
    database_url: str, fake_openai: FakeOpenAI
) -> None:
    settings = chat_settings(database_url, fake_openai, allowed_origins=(ORIGIN,))
    with serve_app(create_app(settings), ws_ping_interval=0.3) as server:
        silent = socket.create_connection((server.host, server.port), timeout=5)
        key = base64.b64encode(os.urandom(16)).decode()
        silent.sendall(
            (
                "GET /api/webchat/ws HTTP/1.1\r\n"
                f"Host: {server.host}:{server.port}\r\n"
                f"Origin: {ORIGIN}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        started = time.monotonic()
        received = b""
        while chunk := silent.recv(4096):  # never answers the server's pings
            received += chunk
        silent.close()

    assert received.startswith(b"HTTP/1.1 101")
    assert time.monotonic() - started < 5


def test_a_binary_frame_gets_an_error_and_closes_with_1003(chat: Chat) -> None:
    token = chat.start_session()["session_token"]

    with _open(chat, token) as socket:
        socket.send(b"\x00\x01binary")
        frame = json.loads(socket.recv(timeout=5))
        with pytest.raises(ConnectionClosed) as closed:
            socket.recv(timeout=5)

    assert frame == {
        "type": "error",
        "code": "unsupported_frame",
        "message": "Frames are JSON text.",
    }
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1003


def test_a_binary_frame_instead_of_auth_closes_with_1003(chat: Chat) -> None:
    with connect(_ws_url(chat), origin=Origin(ORIGIN), open_timeout=5) as socket:
        socket.send(b"\xff" * 10)
        socket.recv(timeout=5)  # the error frame
        with pytest.raises(ConnectionClosed) as closed:
            socket.recv(timeout=5)

    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1003


def test_a_message_over_64_kib_is_refused_by_the_server_unread(chat: Chat) -> None:
    with connect(_ws_url(chat), origin=Origin(ORIGIN), open_timeout=5) as socket:
        socket.send("x" * (64 * 1024 + 1))  # before any auth
        with pytest.raises(ConnectionClosed) as closed:
            socket.recv(timeout=5)

    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1009
