"""Hostile webchat input over REST and the socket: never a 5xx, never a dropped socket,
never half a message stored."""

import json
from collections.abc import Iterator
from typing import Any

import hypothesis.strategies as st
import pytest
from hypothesis import given
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Origin

from talia_testkit.fake_openai import FakeOpenAI
from talia_testkit.hostile import any_text, awkward, hostile

from .test_api import ORIGIN, Chat, serve_chat

# What a JSON encoder can send: finite numbers only.
finite = st.floats(allow_nan=False, allow_infinity=False)
json_value = st.recursive(
    st.none() | st.booleans() | st.integers() | finite | any_text | awkward,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(any_text, inner, max_size=3),
    max_leaves=6,
)
client_ids = st.one_of(st.from_regex(r"[A-Za-z0-9._:-]{1,20}", fullmatch=True), any_text, awkward)
# What HTTP lets a client put in a header: no control characters, no edge whitespace.
header_text = st.text(st.characters(exclude_categories=["Cs", "Cc"]), min_size=1, max_size=60)
tokens = header_text.map(str.strip).filter(bool)
message_bodies = st.one_of(
    st.fixed_dictionaries({"client_message_id": client_ids, "text": st.one_of(any_text, awkward)}),
    st.dictionaries(st.sampled_from(["client_message_id", "text", "type", "x"]), json_value),
    json_value,
)


@pytest.fixture
def chat(database_url: str, fake_openai: FakeOpenAI) -> Iterator[Chat]:
    # High limits: the examples are many and come from one address and one session.
    with serve_chat(
        database_url,
        fake_openai,
        max_text_chars=200,
        session_messages_per_minute=10_000,
        ip_requests_per_minute=10_000,
    ) as served:
        yield served


def _stored_texts(chat: Chat, client_message_id: Any) -> list[tuple[str]]:
    if not isinstance(client_message_id, str) or "\x00" in client_message_id:
        return []
    rows: list[tuple[str]] = chat.rows(
        "select contenido from public.mensajes where proveedor_id = %s", client_message_id
    )
    return rows


@hostile
@given(body=message_bodies)
def test_any_json_message_is_stored_whole_or_refused_with_a_4xx(chat: Chat, body: Any) -> None:
    token = chat.session_token()
    client_id = body.get("client_message_id") if isinstance(body, dict) else None
    before = _stored_texts(chat, client_id)

    response = chat.http.post(
        "/api/webchat/messages", json=body, headers={"Authorization": f"Bearer {token}"}
    )

    assert response.status_code < 500, response.text
    if response.status_code < 300:
        assert len(_stored_texts(chat, client_id)) == 1
        assert "\x00" not in response.json()["message"]["text"]
    else:
        assert set(response.json()["error"]) == {"code", "message"}
        assert _stored_texts(chat, client_id) == before


@hostile
@given(token=tokens, after=st.one_of(any_text, awkward))
def test_any_token_or_cursor_gets_a_4xx_not_a_crash(chat: Chat, token: str, after: str) -> None:
    header = f"Bearer {token}".encode()  # as bytes: whatever the client puts on the wire
    response = chat.http.get(
        "/api/webchat/messages", params={"after": after}, headers={b"Authorization": header}
    )

    assert 400 <= response.status_code < 500
    assert set(response.json()["error"]) == {"code", "message"}


def _socket(chat: Chat) -> ClientConnection:
    url = str(chat.http.base_url).replace("http://", "ws://") + "/api/webchat/ws"
    socket = connect(url, origin=Origin(ORIGIN), open_timeout=5)
    socket.send(json.dumps({"type": "auth", "token": chat.session_token()}))
    return socket


# Frames within the socket's limit at this app's 200-character texts (200 * 4 + 1024); a
# larger frame closes with 1009, as test_socket.py shows.
frame = st.one_of(any_text, awkward, json_value.map(json.dumps)).filter(
    lambda text: len(text) <= 1_800
)


@hostile
@given(frames=st.lists(frame, max_size=4))
def test_any_text_frames_get_answers_and_never_drop_the_socket(
    chat: Chat, frames: list[str]
) -> None:
    with _socket(chat) as socket:
        for frame in frames:
            socket.send(frame)
        socket.send(json.dumps({"type": "ping"}))
        # Error frames (and replies) may come first; the socket must still answer the ping.
        while True:
            answer = json.loads(socket.recv(timeout=10))
            if answer["type"] == "pong":
                break


def test_a_nul_byte_in_a_message_is_dropped_and_the_rest_stored(chat: Chat) -> None:
    token = chat.session_token()

    response = chat.send(token, "c-nul", "ho\x00la")

    assert response.status_code == 200
    assert response.json()["message"]["text"] == "hola"


def test_a_token_with_non_ascii_characters_is_a_401(chat: Chat) -> None:
    response = chat.http.get(
        "/api/webchat/messages", headers={b"Authorization": "Bearer v1.é.ñ".encode()}
    )

    assert response.status_code == 401


def test_the_socket_closes_properly_for_a_bad_token_frame(chat: Chat) -> None:
    url = str(chat.http.base_url).replace("http://", "ws://") + "/api/webchat/ws"
    with connect(url, origin=Origin(ORIGIN), open_timeout=5) as socket:
        socket.send(json.dumps({"type": "auth", "token": "v1.é.ñ", "last_message_id": "1e400"}))
        socket.recv(timeout=5)
        with pytest.raises(ConnectionClosed) as closed:
            socket.recv(timeout=5)

    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4401
