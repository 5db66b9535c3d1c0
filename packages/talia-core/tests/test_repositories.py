"""The write API through the repositories, on a real PostgreSQL."""

import asyncio
import json
import uuid

import psycopg
import pytest
from psycopg import sql
from psycopg_pool import AsyncConnectionPool

from talia_core.db import connection_options
from talia_core.repositories.contactos import ContactosRepository
from talia_core.repositories.conversaciones import ConversacionEnCurso, ConversacionesRepository
from talia_core.repositories.errors import InvalidRecord, RecordNotFound, TextTooLong
from talia_core.repositories.eventos import EventosRepository
from talia_core.repositories.mensajes import (
    EntranteRegistrado,
    MensajesRepository,
    SalienteRegistrado,
)
from talia_core.repositories.sql import fetch_row

SENDER = "whatsapp:+5215512345678"


async def _inbound(
    mensajes: MensajesRepository, sid: str, text: str = "hola"
) -> EntranteRegistrado:
    return await mensajes.record_inbound(
        canal="whatsapp", identidad=SENDER, asistente="tienda", proveedor_id=sid, contenido=text
    )


async def test_inbound_message_creates_contact_conversation_and_event(
    db_pool: AsyncConnectionPool,
) -> None:
    mensajes = MensajesRepository(db_pool)

    recorded = await _inbound(mensajes, "SM" + "1" * 32)

    conversation = await ConversacionesRepository(db_pool).get(recorded.conversacion_id)
    events = await EventosRepository(db_pool).list_for_conversation(recorded.conversacion_id)
    history = await mensajes.history(recorded.conversacion_id)
    assert not recorded.repetido
    assert conversation is not None
    assert (conversation.estado, conversation.asistente_clave) == ("open", "tienda")
    assert [e.tipo for e in events] == ["conversation_opened"]
    assert [(m.direccion, m.contenido, m.estado_entrega, m.metadata) for m in history] == [
        ("inbound", "hola", "received", {})
    ]


async def test_next_message_of_a_contact_joins_its_open_conversation(
    db_pool: AsyncConnectionPool,
) -> None:
    mensajes = MensajesRepository(db_pool)

    first = await _inbound(mensajes, "SM-a")
    second = await _inbound(mensajes, "SM-b", "¿precio?")

    assert second.conversacion_id == first.conversacion_id
    assert [m.contenido for m in await mensajes.history(first.conversacion_id)] == [
        "hola",
        "¿precio?",
    ]


async def test_same_message_sid_sent_50_times_concurrently_is_stored_once(
    database_url: str,
) -> None:
    async with AsyncConnectionPool(
        database_url,
        min_size=50,
        max_size=50,
        kwargs=connection_options(database_url),
    ) as pool:
        mensajes = MensajesRepository(pool)

        results = await asyncio.gather(*(_inbound(mensajes, "SM-dup") for _ in range(50)))

        async with pool.connection() as conn:
            cursor = await conn.execute("select count(*) from public.mensajes")
            count = await cursor.fetchone()
    assert count == (1,)
    assert sum(not r.repetido for r in results) == 1
    assert len({r.mensaje_id for r in results}) == 1


async def test_webchat_retry_returns_the_first_message_and_its_reply(
    db_pool: AsyncConnectionPool,
) -> None:
    conversations = ConversacionesRepository(db_pool)
    mensajes = MensajesRepository(db_pool)
    opened = await conversations.open(canal="webchat", identidad="visitor-1", asistente="tienda")
    first = await mensajes.record_webchat(
        conversacion_id=opened.conversacion_id, client_message_id="c-1", contenido="hola"
    )
    reply = await mensajes.record_outbound(
        conversacion_id=opened.conversacion_id,
        contenido="respuesta",
        idempotency_key=f"reply:{first.mensaje_id}",
        respuesta_a=first.mensaje_id,
    )

    retry = await mensajes.record_webchat(
        conversacion_id=opened.conversacion_id, client_message_id="c-1", contenido="hola"
    )

    assert retry.repetido
    assert (retry.mensaje_id, retry.respuesta_id) == (first.mensaje_id, reply.mensaje_id)


async def test_a_webchat_message_brings_what_its_reply_needs_of_the_conversation(
    db_pool: AsyncConnectionPool,
) -> None:
    conversations = ConversacionesRepository(db_pool)
    mensajes = MensajesRepository(db_pool)
    opened = await conversations.open(canal="webchat", identidad="visitor-2", asistente="tienda")
    await conversations.attach_openai_conversation(opened.conversacion_id, "conv_abc")

    recorded = await mensajes.record_webchat(
        conversacion_id=opened.conversacion_id, client_message_id="c-1", contenido="hola"
    )

    stored = await conversations.get(opened.conversacion_id)
    assert stored is not None
    assert recorded.conversacion() == ConversacionEnCurso(
        conversacion_id=stored.conversacion_id,
        canal=stored.canal,
        contacto_id=stored.contacto_id,
        asistente_clave=stored.asistente_clave,
        estado=stored.estado,
        openai_conversation_id="conv_abc",
    )


async def test_a_result_column_a_release_does_not_know_yet_is_left_out(
    db_pool: AsyncConnectionPool,
) -> None:
    # A migration may add result columns while replicas of the previous release still run.
    row = await fetch_row(
        db_pool,
        "select 7::bigint as mensaje_id, true as repetido, 'new' as columna_nueva",
        (),
        SalienteRegistrado,
    )

    assert row == SalienteRegistrado(mensaje_id=7, repetido=True)


async def test_outbound_message_is_recorded_once_per_idempotency_key(
    db_pool: AsyncConnectionPool,
) -> None:
    mensajes = MensajesRepository(db_pool)
    inbound = await _inbound(mensajes, "SM-c")

    first = await mensajes.record_outbound(
        conversacion_id=inbound.conversacion_id, contenido="hola!", idempotency_key="job-1:0"
    )
    again = await mensajes.record_outbound(
        conversacion_id=inbound.conversacion_id, contenido="hola!", idempotency_key="job-1:0"
    )

    assert (first.repetido, again.repetido) == (False, True)
    assert again.mensaje_id == first.mensaje_id


async def test_delivery_status_never_goes_back(db_pool: AsyncConnectionPool) -> None:
    mensajes = MensajesRepository(db_pool)
    inbound = await _inbound(mensajes, "SM-d")
    outbound = await mensajes.record_outbound(
        conversacion_id=inbound.conversacion_id, contenido="ok", idempotency_key="job-2:0"
    )
    await mensajes.update_delivery(
        canal="whatsapp", proveedor_id="SM-out", estado="queued", mensaje_id=outbound.mensaje_id
    )

    delivered = await mensajes.update_delivery(
        canal="whatsapp", proveedor_id="SM-out", estado="delivered"
    )
    late_sent = await mensajes.update_delivery(
        canal="whatsapp", proveedor_id="SM-out", estado="sent"
    )
    read = await mensajes.update_delivery(canal="whatsapp", proveedor_id="SM-out", estado="read")

    assert (delivered.estado_entrega, delivered.cambiado) == ("delivered", True)
    assert (late_sent.estado_entrega, late_sent.cambiado) == ("delivered", False)
    assert (read.estado_entrega, read.cambiado) == ("read", True)


async def test_lead_update_saves_fields_and_records_an_event_without_values(
    db_pool: AsyncConnectionPool,
) -> None:
    inbound = await _inbound(MensajesRepository(db_pool), "SM-e")
    contactos = ContactosRepository(db_pool)

    contact = await contactos.update_lead(
        inbound.contacto_id,
        nombre="Ana García",
        email="Ana@Example.com",
        interes="plan anual",
        conversacion_id=inbound.conversacion_id,
    )

    events = await EventosRepository(db_pool).list_for_conversation(inbound.conversacion_id)
    assert (contact.nombre, contact.email, contact.interes) == (
        "Ana García",
        "ana@example.com",
        "plan anual",
    )
    assert events[-1].tipo == "lead_saved"
    assert events[-1].payload == {"campos": ["nombre", "email", "interes"]}


async def test_handoff_and_give_back_change_state_and_record_events(
    db_pool: AsyncConnectionPool,
) -> None:
    inbound = await _inbound(MensajesRepository(db_pool), "SM-f")
    conversations = ConversacionesRepository(db_pool)

    handed = await conversations.hand_off(inbound.conversacion_id, motivo="asked for a person")
    next_message = await _inbound(MensajesRepository(db_pool), "SM-g")
    given = await conversations.give_back(inbound.conversacion_id)

    events = await EventosRepository(db_pool).list_for_conversation(inbound.conversacion_id)
    assert (handed.estado, given.estado) == ("handoff", "open")
    assert next_message.estado_conversacion == "handoff"
    assert [e.tipo for e in events][-2:] == ["handoff_requested", "handoff_released"]


async def test_openai_conversation_id_is_set_once(db_pool: AsyncConnectionPool) -> None:
    inbound = await _inbound(MensajesRepository(db_pool), "SM-h")
    conversations = ConversacionesRepository(db_pool)

    first, second = await asyncio.gather(
        conversations.attach_openai_conversation(inbound.conversacion_id, "conv_a"),
        conversations.attach_openai_conversation(inbound.conversacion_id, "conv_b"),
    )

    stored = await conversations.get(inbound.conversacion_id)
    assert stored is not None
    assert first == second == stored.openai_conversation_id


async def test_forgetting_a_contact_leaves_none_of_their_text_or_identity(
    db_pool: AsyncConnectionPool, database_url: str
) -> None:
    mensajes = MensajesRepository(db_pool)
    inbound = await _inbound(mensajes, "SM-i", "mi correo es ana@example.com")
    await ContactosRepository(db_pool).update_lead(
        inbound.contacto_id, nombre="Ana García", email="ana@example.com", telefono="+5215512345678"
    )
    await mensajes.record_outbound(
        conversacion_id=inbound.conversacion_id, contenido="Gracias Ana García", idempotency_key="k"
    )

    forgotten = await ContactosRepository(db_pool).forget(inbound.contacto_id)

    with psycopg.connect(database_url) as conn:
        dump = json.dumps(
            [
                conn.execute(
                    sql.SQL("select coalesce(jsonb_agg(t), '[]') from public.{} t").format(
                        sql.Identifier(table)
                    )
                ).fetchone()
                for table in ("contactos", "conversaciones", "mensajes", "eventos")
            ],
            ensure_ascii=False,
        )
        events = conn.execute("select tipo, payload from public.eventos").fetchall()
    assert forgotten
    for secret in (
        "Ana",
        "ana@example.com",
        "5512345678",
        "mi correo",
        "SM-i",
        str(inbound.contacto_id),
    ):
        assert secret not in dump
    assert events == [("contact_forgotten", {"canal": "whatsapp"})]


async def test_message_for_a_missing_conversation_is_a_typed_not_found(
    db_pool: AsyncConnectionPool,
) -> None:
    with pytest.raises(RecordNotFound, match="not found"):
        await MensajesRepository(db_pool).record_outbound(
            conversacion_id=uuid.uuid4(), contenido="x", idempotency_key="k2"
        )


async def test_text_over_the_limit_is_a_typed_too_long(db_pool: AsyncConnectionPool) -> None:
    with pytest.raises(TextTooLong, match="16000"):
        await _inbound(MensajesRepository(db_pool), "SM-j", "a" * 16001)


async def test_unknown_channel_is_a_typed_invalid_record(db_pool: AsyncConnectionPool) -> None:
    with pytest.raises(InvalidRecord, match="unknown channel: fax"):
        await MensajesRepository(db_pool).record_inbound(
            canal="fax", identidad="x", asistente="a", proveedor_id="1", contenido="hola"
        )


async def test_invalid_email_in_a_lead_is_refused(db_pool: AsyncConnectionPool) -> None:
    inbound = await _inbound(MensajesRepository(db_pool), "SM-k")

    with pytest.raises(InvalidRecord, match="email"):
        await ContactosRepository(db_pool).update_lead(inbound.contacto_id, email="not-an-email")


@pytest.mark.parametrize(
    "statement",
    [
        "update public.mensajes set estado_entrega = 'lost'",
        "update public.conversaciones set estado = 'archived'",
    ],
)
async def test_a_status_outside_its_list_is_refused_even_by_direct_sql(
    db_pool: AsyncConnectionPool, statement: str
) -> None:
    await _inbound(MensajesRepository(db_pool), "SM-status")

    async with db_pool.connection() as conn:
        with pytest.raises(psycopg.errors.CheckViolation):
            await conn.execute(statement)
        # A message without a delivery status (no provider tracks it) stays allowed.
        await conn.execute("update public.mensajes set estado_entrega = null")
        cursor = await conn.execute("select estado_entrega from public.mensajes")
        assert await cursor.fetchall() == [(None,)]
