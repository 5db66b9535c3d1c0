"""POST /api/console/contacts/{id}/forget: a customer forgotten here, at OpenAI and at
Twilio; what a provider could not delete at once is listed and deleted later."""

import uuid
from uuid import UUID

import httpx
import psycopg
from openai import OpenAI
from psycopg.types.json import Jsonb

from .console_kit import Console, wait_for


def _whatsapp_customer(console: Console) -> tuple[UUID, str, list[str]]:
    """A WhatsApp contact with an OpenAI conversation and two messages Twilio keeps."""
    sdk = OpenAI(base_url=console.openai.base_url, api_key="sk-test")
    openai = sdk.conversations.create().id
    sids = []
    for body in ("hola", "¿seguís ahí?"):
        message = httpx.post(
            f"{console.twilio.base_url}/2010-04-01/Accounts/{console.twilio.account_sid}"
            "/Messages.json",
            data={"To": "whatsapp:+34600111222", "From": "whatsapp:+14155238886", "Body": body},
            auth=(console.twilio.account_sid, console.twilio.auth_token),
        ).json()
        sids.append(message["sid"])
    conversation = console.conversation("whatsapp", texts=())
    with psycopg.connect(console.database_url, autocommit=True) as conn:
        conn.execute(
            "update public.conversaciones set openai_conversation_id = %s"
            " where conversacion_id = %s",
            (openai, conversation),
        )
        for sid in sids:
            conn.execute(
                "insert into public.mensajes (conversacion_id, canal, direccion, rol, contenido,"
                " proveedor_id, metadata) values (%s, 'whatsapp', 'outbound', 'assistant', 'x',"
                " %s, %s)",
                (conversation, sid, Jsonb({})),
            )
        row = conn.execute(
            "select contacto_id from public.conversaciones where conversacion_id = %s",
            (conversation,),
        ).fetchone()
    assert row is not None
    contact: UUID = row[0]
    return contact, openai, sids


def test_a_forgotten_customer_is_gone_here_at_openai_and_at_twilio(console: Console) -> None:
    admin = console.staff("Alba", role="admin")
    contact, openai, sids = _whatsapp_customer(console)

    response = console.post(admin, f"/contacts/{contact}/forget")

    assert response.status_code == 200, response.text
    assert response.json() == {"deleted": 3, "pending": []}
    assert not console.openai.conversation_exists(openai)
    assert not set(sids) & set(console.twilio.messages)
    assert console.rows(
        "select (select count(*) from public.contactos), (select count(*) from public.mensajes),"
        " (select count(*) from public.borrados_externos),"
        " (select count(*) from public.eventos where tipo = 'contact_forgotten')"
    ) == [(0, 0, 0, 1)]


def test_what_twilio_could_not_delete_is_listed_then_deleted_later(console: Console) -> None:
    admin = console.staff("Alba", role="admin")
    contact, _, sids = _whatsapp_customer(console)
    console.twilio.fail_next(500, 20500)

    response = console.post(admin, f"/contacts/{contact}/forget")
    pending = response.json()["pending"]
    wait_for(lambda: not set(sids) & set(console.twilio.messages))
    owed = wait_for(lambda: console.rows("select count(*) from public.borrados_externos") == [(0,)])

    assert response.status_code == 200
    assert response.json()["deleted"] == 2
    assert len(pending) == 1
    assert pending[0]["service"] == "twilio_message"
    assert pending[0]["id"] in sids
    assert pending[0]["error"] == "twilio: HTTP 500, code 20500"
    assert owed


def test_only_admins_forget_and_an_unknown_contact_is_a_404(console: Console) -> None:
    admin, agent = console.staff("Alba", role="admin"), console.staff("Bea")
    contact, _, _ = _whatsapp_customer(console)

    by_agent = console.post(agent, f"/contacts/{contact}/forget")
    unknown = console.post(admin, f"/contacts/{uuid.uuid4()}/forget")

    assert by_agent.status_code == 403
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "contact_not_found")
    assert console.rows(
        "select count(*) from public.contactos where contacto_id = %s", contact
    ) == [(1,)]
