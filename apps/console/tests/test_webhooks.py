"""Outgoing webhooks: subscribed events reach their receivers signed, once each however
long the receiver was down, and subscriptions are the admins' to manage."""

import json
from typing import Any
from uuid import UUID

import psycopg
import pytest
from standardwebhooks.webhooks import Webhook

from .console_kit import Console, running_console, wait_for
from .webhook_receiver import running_receiver

SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # 24 bytes, as the spec's examples


def _subscribe(console: Console, admin: UUID, url: str, **body: Any) -> dict[str, Any]:
    response = console.post(
        admin, "/webhooks", {"url": url, "events": ["handoff_requested", "lead_saved"], **body}
    )
    assert response.status_code == 201, response.text
    subscription: dict[str, Any] = response.json()
    return subscription


def _save_lead(console: Console, conversation: UUID) -> None:
    with psycopg.connect(console.database_url, autocommit=True) as conn:
        conn.execute(
            "select public.actualizar_lead(c.contacto_id, p_email => 'lucia@example.com',"
            " p_conversacion_id => c.conversacion_id)"
            " from public.conversaciones c where c.conversacion_id = %s",
            (conversation,),
        )


def _deliveries(console: Console, admin: UUID, subscription: str) -> list[dict[str, Any]]:
    response = console.get(admin, f"/webhooks/{subscription}/deliveries")
    assert response.status_code == 200, response.text
    rows: list[dict[str, Any]] = response.json()
    return rows


def test_a_receiver_down_then_up_gets_each_event_once_signed(console: Console) -> None:
    admin = console.staff("Ana", role="admin")
    with running_receiver(down=True) as receiver:
        subscription = _subscribe(console, admin, receiver.url, secret=SECRET)
        conversation = console.conversation("whatsapp")
        console.hand_off(conversation)
        _save_lead(console, conversation)
        # Two refused attempts of each event, then the receiver comes back.
        wait_for(lambda: len(receiver.received) >= 4)
        receiver.down = False
        wait_for(lambda: len(receiver.taken()) == 2)
        deliveries = wait_for(
            lambda: (
                [
                    row
                    for row in _deliveries(console, admin, subscription["id"])
                    if row["state"] == "delivered"
                ]
                if len(_deliveries(console, admin, subscription["id"])) == 2
                else None
            )
        )

    taken = receiver.taken()
    verifier = Webhook(SECRET)
    bodies = [verifier.verify(request.body, request.headers) for request in receiver.received]
    assert sorted(body["type"] for body in bodies[-2:]) == ["handoff_requested", "lead_saved"]
    assert sorted(json.loads(request.body)["type"] for request in taken) == [
        "handoff_requested",
        "lead_saved",
    ]
    handoff = next(json.loads(r.body) for r in taken if b"handoff_requested" in r.body)
    assert handoff["data"]["conversation_id"] == str(conversation)
    assert handoff["data"]["channel"] == "whatsapp"
    assert handoff["data"]["details"]["motivo"] == "asked for a person"
    assert all(row["attempts"] >= 3 for row in deliveries)
    # Every attempt of one event carried the same id.
    ids = {r.headers["webhook-id"] for r in receiver.received}
    assert len(ids) == 2


def test_a_slack_subscription_gets_a_readable_line_with_a_link(console: Console) -> None:
    admin = console.staff("Ana", role="admin")
    with running_receiver() as receiver:
        _subscribe(console, admin, receiver.url, format="slack")
        conversation = console.conversation("webchat")
        with psycopg.connect(console.database_url, autocommit=True) as conn:
            conn.execute(
                "select public.marcar_handoff(%s, 'quiere <!channel> hablar con alguien')",
                (conversation,),
            )
        (request,) = wait_for(receiver.taken)

    text = json.loads(request.body)["text"]
    assert text.startswith("A customer is waiting for a person (web chat): quiere &lt;!channel&gt;")
    assert text.endswith(f"/console/#/conversations/{conversation}|Open in the console>")


def test_a_delivery_that_is_never_taken_ends_failed(console: Console) -> None:
    admin = console.staff("Ana", role="admin")
    with running_receiver(status_when_up=500) as receiver:
        subscription = _subscribe(console, admin, receiver.url)
        console.hand_off(console.conversation())
        (delivery,) = wait_for(
            lambda: [
                row
                for row in _deliveries(console, admin, subscription["id"])
                if row["state"] == "failed"
            ]
        )

    assert delivery["attempts"] == 6  # the first, then one per retry_seconds entry
    assert (delivery["last_status"], delivery["last_error"]) == (500, "HTTP 500")
    assert len(receiver.received) == 6


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.7/hook",
        "http://[::1]/hook",
        "http://[::ffff:192.168.1.1]/hook",
    ],
)
def test_private_targets_are_refused(database_url: str, url: str) -> None:
    with running_console(database_url, webhooks={"allow_private_targets": False}) as console:
        admin = console.staff("Ana", role="admin")
        response = console.post(admin, "/webhooks", {"url": url, "events": ["lead_saved"]})

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "target_not_allowed"


def test_bad_subscriptions_are_refused_with_their_reason(console: Console) -> None:
    admin = console.staff("Ana", role="admin")
    cases = {
        "unknown_event": {"url": "https://hooks.example/x", "events": ["everything"]},
        "invalid_secret": {
            "url": "https://hooks.example/x",
            "events": ["lead_saved"],
            "secret": "hunter2",
        },
        "invalid_url": {"url": "ftp://hooks.example/x", "events": ["lead_saved"]},
    }
    bad_port = {"url": "https://hooks.example:99999/x", "events": ["lead_saved"]}

    codes = {
        code: console.post(admin, "/webhooks", body).json()["error"]["code"]
        for code, body in cases.items()
    }

    assert codes == {code: code for code in cases}
    assert console.post(admin, "/webhooks", bad_port).json()["error"]["code"] == "invalid_url"
    assert console.get(admin, "/webhooks").json() == []


def test_subscriptions_are_the_admins_to_manage(console: Console) -> None:
    admin, agent = console.staff("Ana", role="admin"), console.staff("Bea")
    made = _subscribe(console, admin, "https://hooks.example/talia")

    listed = console.get(admin, "/webhooks").json()
    refused = [
        console.get(agent, "/webhooks").status_code,
        console.post(
            agent, "/webhooks", {"url": "https://x.example", "events": ["lead_saved"]}
        ).status_code,
        console.http.delete(
            f"/api/console/webhooks/{made['id']}", headers=console.as_(agent)
        ).status_code,
    ]
    removed = console.http.delete(f"/api/console/webhooks/{made['id']}", headers=console.as_(admin))
    again = console.http.delete(f"/api/console/webhooks/{made['id']}", headers=console.as_(admin))

    assert made["secret"].startswith("whsec_")
    assert [(w["id"], w["url"], w["secret"]) for w in listed] == [
        (made["id"], "https://hooks.example/talia", None)
    ]
    assert refused == [403, 403, 403]
    assert (removed.status_code, again.status_code) == (204, 404)
