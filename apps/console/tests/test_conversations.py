"""The conversation API: lists and filters, one conversation whole, takeover actions."""

import threading
import uuid
from uuid import UUID

from .console_kit import Console


def _ids(console: Console, agent: UUID, **params: str) -> list[str]:
    response = console.get(agent, "/conversations", **params)
    assert response.status_code == 200, response.text
    return [row["id"] for row in response.json()["conversations"]]


def test_handoffs_are_listed_longest_waiting_first_with_their_wait(console: Console) -> None:
    ana = console.staff("Ana")
    first, second = console.conversation(), console.conversation()
    console.conversation()  # the assistant answers this one: not in the handoff list
    console.hand_off(first)
    console.hand_off(second)

    body = console.get(ana, "/conversations", state="handoff").json()

    assert [row["id"] for row in body["conversations"]] == [str(first), str(second)]
    assert all(row["waiting_seconds"] >= 0 for row in body["conversations"])
    assert body["conversations"][0]["last_message"]["role"] == "user"
    assert body["next_cursor"] is None


def test_pages_follow_the_cursor_without_gaps_or_repeats(console: Console) -> None:
    ana = console.staff("Ana")
    made = {str(console.conversation()) for _ in range(7)}

    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params = {"cursor": cursor} if cursor else {}
        body = console.get(ana, "/conversations", **params).json()
        seen += [row["id"] for row in body["conversations"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break

    assert pages == 3  # page size 3 in these tests
    assert sorted(seen) == sorted(made)


def test_filters_by_channel_holder_and_text(console: Console) -> None:
    ana, bea = console.staff("Ana"), console.staff("Bea")
    mine = console.conversation("whatsapp", texts=("quiero una cita",), name="Lucía Pérez")
    hers = console.conversation("webchat", texts=("precio del plan 100%",))
    nobodys = console.conversation("webchat", texts=("hola",))
    assert console.post(ana, f"/conversations/{mine}/claim").status_code == 200
    assert console.post(bea, f"/conversations/{hers}/claim").status_code == 200
    console.hand_off(nobodys)

    assert _ids(console, ana, channel="whatsapp") == [str(mine)]
    assert _ids(console, ana, assigned="me") == [str(mine)]
    assert _ids(console, ana, assigned=str(bea)) == [str(hers)]
    assert _ids(console, ana, assigned="none", state="handoff") == [str(nobodys)]
    assert _ids(console, ana, q="lucía") == [str(mine)]
    assert _ids(console, ana, q="100%") == [str(hers)]
    assert _ids(console, ana, q="%") == [str(hers)]  # wildcards are characters like any other
    assert _ids(console, ana, q="_") == []


def test_unread_counts_are_each_agents_own(console: Console) -> None:
    ana, bea = console.staff("Ana"), console.staff("Bea")
    conversation = console.conversation(texts=("uno", "dos"))

    assert console.get(ana, f"/conversations/{conversation}").status_code == 200

    unread = {
        name: console.get(agent, "/conversations").json()["conversations"][0]["unread"]
        for name, agent in (("ana", ana), ("bea", bea))
    }
    assert unread == {"ana": 0, "bea": 2}


def test_one_conversation_whole(console: Console) -> None:
    ana = console.staff("Ana")
    conversation = console.conversation("whatsapp", texts=("necesito ayuda",), name="Lucía")
    console.hand_off(conversation)
    console.post(ana, f"/conversations/{conversation}/reply", {"text": "Hola Lucía, soy Ana"})

    body = console.get(ana, f"/conversations/{conversation}").json()

    assert body["state"] == "handoff"
    assert body["assigned_agent"] == {"id": str(ana), "name": "Ana"}
    assert body["contact"]["name"] == "Lucía"
    assert [(m["role"], m["text"]) for m in body["messages"]] == [
        ("user", "necesito ayuda"),
        ("agent", "Hola Lucía, soy Ana"),
    ]
    assert body["messages"][1]["author"] == {"id": str(ana), "name": "Ana"}
    assert [e["type"] for e in body["events"]] == [
        "conversation_opened",
        "handoff_requested",
        "conversation_claimed",
        "agent_replied",
    ]
    assert body["events"][1]["data"]["motivo"] == "asked for a person"
    assert body["whatsapp_window"]["open"] is True


def test_an_unknown_conversation_is_a_404(console: Console) -> None:
    ana = console.staff("Ana")

    for path in ("", "/claim", "/release"):
        method = console.get if not path else console.post
        response = method(ana, f"/conversations/{uuid.uuid4()}{path}")
        assert response.status_code == 404, path


def test_of_two_agents_claiming_at_once_one_wins_the_other_gets_409(console: Console) -> None:
    agents = [console.staff(name) for name in ("Ana", "Bea", "Cris", "Dani")]
    conversation = console.conversation()
    console.hand_off(conversation)
    start = threading.Barrier(len(agents))
    statuses: dict[UUID, int] = {}

    def claim(agent: UUID) -> None:
        start.wait()
        statuses[agent] = console.post(agent, f"/conversations/{conversation}/claim").status_code

    threads = [threading.Thread(target=claim, args=(agent,)) for agent in agents]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    winners = [agent for agent, status in statuses.items() if status == 200]
    assert sorted(statuses.values()) == [200, 409, 409, 409]
    held_by = console.rows(
        "select agente_id from public.conversaciones where conversacion_id = %s", conversation
    )
    assert held_by == [(winners[0],)]
    claims = console.rows("select count(*) from public.eventos where tipo = 'conversation_claimed'")
    assert claims == [(1,)]


def test_another_agents_conversation_is_theirs_but_an_admin_may_act(console: Console) -> None:
    ana, bea, boss = console.staff("Ana"), console.staff("Bea"), console.staff("Jefa", role="admin")
    conversation = console.conversation()
    console.post(ana, f"/conversations/{conversation}/claim")

    refused = console.post(bea, f"/conversations/{conversation}/release")
    reply = console.post(bea, f"/conversations/{conversation}/reply", {"text": "hola"})
    assign = console.post(bea, f"/conversations/{conversation}/assign", {"agent_id": str(bea)})
    by_admin = console.post(boss, f"/conversations/{conversation}/assign", {"agent_id": str(bea)})

    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "assigned_to_another")
    assert reply.status_code == 403
    assert assign.status_code == 403
    assert by_admin.status_code == 200
    assert by_admin.json() == {"state": "handoff", "assigned_agent_id": str(bea), "changed": True}


def test_release_close_and_reopen_each_leave_an_event_naming_the_agent(console: Console) -> None:
    ana = console.staff("Ana")
    conversation = console.conversation()

    results = [
        console.post(ana, f"/conversations/{conversation}/{action}").json()
        for action in ("claim", "claim", "release", "close", "release", "reopen")
    ]

    assert [r.get("state", r.get("error", {}).get("code")) for r in results] == [
        "handoff",
        "handoff",  # a repeat changes nothing
        "open",
        "closed",
        "conversation_closed",  # a closed conversation is reopened first
        "open",
    ]
    events = console.rows(
        "select tipo, payload->>'agente' from public.eventos"
        " where conversacion_id = %s and tipo <> 'conversation_opened' order by evento_id",
        conversation,
    )
    assert events == [
        ("conversation_claimed", "Ana"),
        ("handoff_released", "Ana"),
        ("conversation_closed", "Ana"),
        ("conversation_reopened", "Ana"),
    ]


def test_a_reply_sent_twice_with_one_key_is_stored_once(console: Console) -> None:
    ana = console.staff("Ana")
    conversation = console.conversation()
    path = f"/conversations/{conversation}/reply"

    first = console.post(ana, path, {"text": "Hola"}, **{"Idempotency-Key": "k-1"})
    again = console.post(ana, path, {"text": "Hola"}, **{"Idempotency-Key": "k-1"})
    other = console.post(ana, path, {"text": "Hola"}, **{"Idempotency-Key": "k-2"})

    assert (first.status_code, first.json()["repeated"]) == (201, False)
    assert (again.status_code, again.json()["repeated"]) == (201, True)
    assert again.json()["message"]["id"] == first.json()["message"]["id"]
    assert other.json()["message"]["id"] != first.json()["message"]["id"]
    assert console.rows("select count(*) from public.mensajes where rol = 'staff'") == [(2,)]


def test_replies_the_channel_cannot_take_are_refused(console: Console) -> None:
    ana = console.staff("Ana")
    call = console.conversation("voice")
    chat = console.conversation("webchat")

    on_a_call = console.post(ana, f"/conversations/{call}/reply", {"text": "hola"})
    too_long = console.post(ana, f"/conversations/{chat}/reply", {"text": "x" * 4001})
    empty = console.post(ana, f"/conversations/{chat}/reply", {"text": " \x00 "})

    assert (on_a_call.status_code, on_a_call.json()["error"]["code"]) == (
        409,
        "channel_not_replyable",
    )
    assert (too_long.status_code, too_long.json()["error"]["code"]) == (413, "reply_too_long")
    assert empty.status_code == 422
    assert console.rows("select count(*) from public.mensajes where rol = 'staff'") == [(0,)]


def test_a_reply_takes_an_unheld_conversation_and_answers_what_came_before(
    console: Console,
) -> None:
    ana = console.staff("Ana")
    conversation = console.conversation(texts=("uno", "dos"))

    console.post(ana, f"/conversations/{conversation}/reply", {"text": "Te leo"})

    body = console.get(ana, f"/conversations/{conversation}").json()
    assert (body["state"], body["assigned_agent"]["name"]) == ("handoff", "Ana")
    # Given back, the assistant answers only what the customer writes after Ana's reply.
    answered = console.rows(
        "select respuesta_a = (select max(mensaje_id) from public.mensajes"
        "  where conversacion_id = %s and direccion = 'inbound')"
        " from public.mensajes where rol = 'staff'",
        conversation,
    )
    assert answered == [(True,)]
