"""GET /api/console/events: what is stored reaches every staff member's feed live, and a
reconnecting client gets what it missed."""

import time
from collections.abc import Callable
from uuid import UUID

import psycopg
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from talia_core.repositories.llamadas import LlamadasRepository

from .console_kit import Console, FeedReader, SentEvent, reading_feed


def _message(text: str) -> Callable[[SentEvent], bool]:
    return lambda sent: sent.event == "message" and sent.data["message"]["text"] == text


def _event(kind: str, conversation: UUID) -> Callable[[SentEvent], bool]:
    return lambda sent: (
        sent.event == "conversation"
        and sent.data["event"]["type"] == kind
        and sent.data["conversation_id"] == str(conversation)
    )


def _customer_writes(console: Console, conversation: UUID, text: str) -> None:
    with psycopg.connect(console.database_url, autocommit=True) as conn:
        conn.execute(
            "insert into public.mensajes (conversacion_id, canal, direccion, rol, contenido,"
            " metadata) values (%s, 'webchat', 'inbound', 'user', %s, %s)",
            (conversation, text, Jsonb({})),
        )


def test_messages_handoffs_and_claims_reach_the_feed_as_they_happen(console: Console) -> None:
    ana = console.staff("Ana")
    with reading_feed(console, ana) as feed:
        conversation = console.conversation(texts=("¿tenéis cita mañana?",))
        opened = feed.until(_event("conversation_opened", conversation))
        said = feed.until(_message("¿tenéis cita mañana?"))
        typing = feed.next()
        console.hand_off(conversation)
        handoff = feed.until(_event("handoff_requested", conversation))
        assert console.post(ana, f"/conversations/{conversation}/claim").status_code == 200
        claimed = feed.until(_event("conversation_claimed", conversation))

    assert opened.data["conversation"]["state"] == "open"
    assert said.data["message"]["role"] == "user"
    assert said.data["conversation_id"] == str(conversation)
    assert (typing.event, typing.data) == (
        "typing",
        {"conversation_id": str(conversation), "by": "assistant"},
    )
    assert handoff.data["event"]["data"]["motivo"] == "asked for a person"
    assert handoff.data["conversation"]["waiting_seconds"] >= 0
    assert claimed.data["conversation"]["state"] == "handoff"
    assert claimed.data["conversation"]["assigned_agent"] == {"id": str(ana), "name": "Ana"}
    ids = [sent.id for sent in feed.received if sent.event != "typing"]
    assert len(set(ids)) == len(ids)  # every item moves the position on


def test_an_agents_reply_reaches_the_other_agents_feeds(console: Console) -> None:
    ana, bea = console.staff("Ana"), console.staff("Bea")
    conversation = console.conversation()
    with reading_feed(console, bea) as feed:
        console.post(ana, f"/conversations/{conversation}/reply", {"text": "Hola, soy Ana"})
        reply = feed.until(_message("Hola, soy Ana"))

    assert reply.data["message"]["role"] == "agent"
    assert reply.data["message"]["author"] == {"id": str(ana), "name": "Ana"}
    assert reply.data["conversation"]["assigned_agent"]["name"] == "Ana"


def test_usage_records_are_not_announced(console: Console) -> None:
    ana = console.staff("Ana")
    conversation = console.conversation()
    with reading_feed(console, ana) as feed:
        with psycopg.connect(console.database_url, autocommit=True) as conn:
            conn.execute(
                "select public.registrar_evento('usage_recorded', %s, null, '{}'::jsonb)",
                (conversation,),
            )
        _customer_writes(console, conversation, "después del uso")
        feed.until(_message("después del uso"))

    assert not [sent for sent in feed.received if sent.event == "conversation"]


def test_a_client_that_reconnects_gets_every_item_it_missed(console: Console) -> None:
    ana = console.staff("Ana")
    conversation = console.conversation()
    with reading_feed(console, ana) as feed:
        _customer_writes(console, conversation, "antes")
        last_seen = feed.until(_message("antes")).id
    assert last_seen is not None

    missed = [f"mientras tanto {n}" for n in range(5)]
    for text in missed:
        _customer_writes(console, conversation, text)
    console.hand_off(conversation)

    with reading_feed(console, ana, last_event_id=last_seen) as feed:
        feed.until(_event("handoff_requested", conversation))
        _customer_writes(console, conversation, "ya de vuelta")
        feed.until(_message("ya de vuelta"))

    texts = [sent.data["message"]["text"] for sent in feed.received if sent.event == "message"]
    assert [text for text in texts if text in missed] == missed  # each once, in order
    assert texts.count("ya de vuelta") == 1
    assert (feed.received[0].event, feed.received[0].data) == ("ready", {"resumed": True})


def test_nothing_is_lost_while_the_console_cannot_listen(console: Console) -> None:
    ana = console.staff("Ana")
    conversation = console.conversation()
    with reading_feed(console, ana) as feed:
        with psycopg.connect(console.database_url, autocommit=True) as conn:
            # The console's listening connection drops; it connects again by itself.
            dropped = conn.execute(
                "select pg_terminate_backend(pid) from pg_stat_activity"
                " where query ilike 'listen %%'"
            ).fetchall()
        _customer_writes(console, conversation, "mientras no escuchaba")
        feed.until(_message("mientras no escuchaba"), timeout=10)

    assert dropped == [(True,)]


def test_the_stream_ends_when_the_access_token_expires(console: Console) -> None:
    ana = console.staff("Ana")
    token = console.auth.issue_token(ana, expires_in=2)
    feed = FeedReader(console, {"Authorization": f"Bearer {token}"})
    try:
        started = time.monotonic()
        assert feed.next().event == "ready"
        expired = feed.next(timeout=10)
        assert feed.ended.wait(5)
    finally:
        feed.close()

    assert (expired.event, expired.data) == ("expired", {"code": "token_expired"})
    assert time.monotonic() - started < 6


def test_the_feed_is_for_staff_and_refuses_ids_it_never_sent(console: Console) -> None:
    ana = console.staff("Ana")
    stranger = console.auth.add_user("stranger@example.com", "correct horse battery")

    anonymous = console.http.get("/api/console/events")
    not_staff = console.http.get(
        "/api/console/events",
        headers={"Authorization": f"Bearer {console.auth.issue_token(stranger)}"},
    )
    forged_id = console.http.get(
        "/api/console/events", headers={**console.as_(ana), "Last-Event-ID": "12; drop"}
    )

    assert anonymous.status_code == 401
    assert not_staff.status_code == 403
    assert forged_id.status_code == 400
    assert forged_id.json()["error"]["code"] == "invalid_last_event_id"


async def test_a_calls_transcript_reaches_the_feed_turn_by_turn(console: Console) -> None:
    ana = console.staff("Ana")
    async with AsyncConnectionPool(console.database_url, open=False) as pool:
        calls = LlamadasRepository(pool)
        with reading_feed(console, ana) as feed:
            await calls.register(
                call_sid="CA" + "1" * 32,
                caller="+34600111222",
                assistant="default",
                token_ttl_seconds=60,
            )
            for sequence, (role, text) in enumerate(
                [("user", "Hola, llamo por la cita"), ("assistant", "Claro, ¿para cuándo?")]
            ):
                await calls.record_turn(
                    call_sid="CA" + "1" * 32, sequence=sequence, role=role, text=text
                )
            caller = feed.until(_message("Hola, llamo por la cita"))
            assistant = feed.until(_message("Claro, ¿para cuándo?"))

    assert [caller.data["message"]["role"], assistant.data["message"]["role"]] == [
        "user",
        "assistant",
    ]
    assert caller.data["message"]["type"] == "transcript"
    assert caller.data["conversation_id"] == assistant.data["conversation_id"]


def test_a_client_that_missed_too_much_is_told_to_reload_and_goes_on_from_now(
    console: Console,
) -> None:
    ana = console.staff("Ana")
    conversation = console.conversation()
    with reading_feed(console, ana) as feed:
        last_seen = feed.received[0].id
    with psycopg.connect(console.database_url, autocommit=True) as conn:
        conn.execute(
            "insert into public.mensajes (conversacion_id, canal, direccion, rol, contenido,"
            " metadata) select %s, 'webchat', 'inbound', 'user', 'mensaje ' || n, '{}'::jsonb"
            " from generate_series(1, 501) n",
            (conversation,),
        )
    assert last_seen is not None

    with reading_feed(console, ana, last_event_id=last_seen) as feed:
        reset = feed.next()
        _customer_writes(console, conversation, "después del aluvión")
        feed.until(_message("después del aluvión"))

    assert reset.event == "reset"
    assert feed.received[0].id != last_seen  # `ready` gave the position to go on from
