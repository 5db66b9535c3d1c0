"""Inbound messages that arrive together share one transaction, and lose nothing by it."""

import asyncio
import socket

import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool

from talia_core.db import connection_options
from talia_core.repositories.errors import TextTooLong
from talia_core.repositories.mensajes import EntranteRegistrado
from talia_whatsapp.inbound import InboundWriter
from talia_whatsapp.schemas import InboundMessage

from .whatsapp_kit import save_profile


def inbound(sid: str, sender: str, text: str = "hola") -> InboundMessage:
    return InboundMessage(
        message_sid=sid,
        sender=sender,
        to="whatsapp:+14155238886",
        body=text,
        media=(),
        profile_name=None,
        metadata={},
    )


async def record(store: InboundWriter, message: InboundMessage) -> EntranteRegistrado:
    return await store.record(message, assistant="default", debounce_ms=500)


async def rows(pool: AsyncConnectionPool, query: str, *params: object) -> list[tuple[object, ...]]:
    async with pool.connection() as conn:
        return await (await conn.execute(query, params)).fetchall()


@pytest.fixture
def store(database_url: str, db_pool: AsyncConnectionPool) -> InboundWriter:
    save_profile(database_url)
    return InboundWriter(db_pool)


async def test_messages_arriving_together_are_committed_together(
    store: InboundWriter, db_pool: AsyncConnectionPool
) -> None:
    senders = [f"whatsapp:+3460000000{n}" for n in range(3)]
    messages = [inbound(f"SM{n:032d}", senders[n % 3], f"mensaje {n}") for n in range(12)]

    recorded = await asyncio.gather(*(record(store, m) for m in messages))

    stored = await rows(
        db_pool,
        "select m.proveedor_id, m.contenido, m.xmin::text, c.identidad from public.mensajes m"
        " join public.conversaciones v using (conversacion_id)"
        " join public.contactos c using (contacto_id) order by m.mensaje_id",
    )
    assert len(stored) == 12
    by_sid = {sid: (text, sender) for sid, text, _, sender in stored}
    for message, result in zip(messages, recorded, strict=True):
        assert by_sid[message.message_sid] == (message.body, message.sender)
        assert not result.repetido
        assert result.encolado
    assert len({xid for _, _, xid, _ in stored}) < len(messages)  # fewer commits than messages
    for sender in senders:  # one person's messages keep their order
        theirs = [sid for sid, _, _, who in stored if who == sender]
        assert theirs == [m.message_sid for m in messages if m.sender == sender]
    jobs = await rows(db_pool, "select count(*) from public.procrastinate_jobs")
    assert jobs == [(3,)]  # one waiting reply per conversation


async def test_a_bad_message_fails_alone(
    store: InboundWriter, db_pool: AsyncConnectionPool
) -> None:
    good = [inbound(f"SMgood{n}", f"whatsapp:+3461000000{n}") for n in range(4)]
    bad = inbound("SMbad", "whatsapp:+34610000009", "x" * 20_000)

    results = await asyncio.gather(
        *(record(store, m) for m in [*good[:2], bad, *good[2:]]), return_exceptions=True
    )

    assert isinstance(results[2], TextTooLong)
    assert all(isinstance(r, EntranteRegistrado) for i, r in enumerate(results) if i != 2)
    stored = await rows(db_pool, "select proveedor_id from public.mensajes order by 1")
    assert stored == sorted((m.message_sid,) for m in good)


async def test_a_message_repeated_within_one_batch_is_stored_once(
    store: InboundWriter, db_pool: AsyncConnectionPool
) -> None:
    message = inbound("SM" + "7" * 32, "whatsapp:+34620000000")

    results = await asyncio.gather(*(record(store, message) for _ in range(5)))

    assert len({r.mensaje_id for r in results}) == 1
    assert sorted(r.repetido for r in results) == [False, True, True, True, True]
    assert await rows(db_pool, "select count(*) from public.mensajes") == [(1,)]


async def test_a_caller_that_goes_away_does_not_lose_its_message(
    store: InboundWriter, db_pool: AsyncConnectionPool
) -> None:
    waiting = asyncio.create_task(record(store, inbound("SMgone", "whatsapp:+34630000000")))
    await asyncio.sleep(0)  # handed over
    waiting.cancel()

    await store.wait_idle()

    stored = await rows(db_pool, "select proveedor_id from public.mensajes")
    assert stored == [("SMgone",)]


async def test_when_the_database_cannot_be_reached_every_caller_hears_it_at_once() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"postgresql://talia@127.0.0.1:{port}/talia"
    pool = AsyncConnectionPool(
        url,
        min_size=1,
        timeout=0.5,
        kwargs={**connection_options(url), "connect_timeout": 1},
        open=False,
    )
    await pool.open(wait=False)
    try:
        store = InboundWriter(pool)
        messages = [inbound(f"SMdown{n}", f"whatsapp:+3464000000{n}") for n in range(4)]

        results = await asyncio.gather(
            *(record(store, m) for m in messages), return_exceptions=True
        )

        assert all(isinstance(r, psycopg.OperationalError) for r in results)
        # One wait for a connection for the batch, not one more for each message after it.
        assert pool.get_stats()["requests_num"] == 1
    finally:
        await pool.close()
