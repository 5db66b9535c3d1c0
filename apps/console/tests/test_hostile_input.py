"""Hostile console input: never a 5xx, never a reply half-written."""

import json
from typing import Any
from urllib.parse import quote
from uuid import UUID

import httpx
import hypothesis.strategies as st
from hypothesis import given

from talia_testkit.hostile import any_text, awkward, field_value, hostile

from .console_kit import Console, FeedReader

finite = st.floats(allow_nan=False, allow_infinity=False)
json_value = st.recursive(
    st.none() | st.booleans() | st.integers() | finite | any_text | awkward,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(any_text, inner, max_size=3),
    max_leaves=6,
)
# What a client puts in a header: printable ASCII, no edge whitespace.
header_text = (
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=120)
    .map(str.strip)
    .filter(bool)
)
list_params = st.dictionaries(
    st.sampled_from(["state", "channel", "assigned", "q", "cursor", "limit"]), field_value
)
reply_bodies = st.one_of(
    st.fixed_dictionaries({"text": st.one_of(any_text, awkward)}),
    st.dictionaries(st.sampled_from(["text", "template", "x"]), json_value),
    json_value,
)


def _post_json(console: Console, agent: UUID, path: str, body: Any) -> httpx.Response:
    """`body` as JSON, whatever it is (the client's `json=` would refuse some)."""
    return console.http.post(
        f"/api/console{path}",
        content=json.dumps(body),
        headers={**console.as_(agent), "Content-Type": "application/json"},
    )


@hostile
@given(params=list_params)
def test_any_list_query_is_answered_or_refused_clearly(
    console: Console, params: dict[str, str]
) -> None:
    response = console.get(console.an_agent(), "/conversations", **params)

    assert response.status_code in {200, 400, 422}, response.text
    if response.status_code != 200:
        assert set(response.json()["error"]) == {"code", "message"}


@hostile
@given(body=reply_bodies, key=st.none() | header_text)
def test_any_reply_body_is_stored_whole_or_not_at_all(
    console: Console, body: Any, key: str | None
) -> None:
    agent = console.an_agent()
    conversation = console.conversation()
    headers = {"Idempotency-Key": key} if key is not None else {}

    response = console.http.post(
        f"/api/console/conversations/{conversation}/reply",
        content=json.dumps(body),
        headers={**console.as_(agent), "Content-Type": "application/json", **headers},
    )

    assert response.status_code in {201, 400, 413, 422}, response.text
    stored = console.rows(
        "select count(*), count(*) filter (where exists (select 1 from public.eventos e"
        "  where e.tipo = 'agent_replied' and (e.payload->>'mensaje_id')::bigint = m.mensaje_id))"
        " from public.mensajes m where m.conversacion_id = %s and m.rol = 'staff'",
        conversation,
    )
    written = 1 if response.status_code == 201 else 0
    assert stored == [(written, written)]


@hostile
@given(conversation=st.one_of(any_text, awkward), action=st.sampled_from(
    ["claim", "release", "close", "reopen", "unassign", "assign", "reply", "nope"]
))  # fmt: skip
def test_any_conversation_path_is_a_clear_error(
    console: Console, conversation: str, action: str
) -> None:
    agent = console.an_agent()

    response = console.http.post(
        f"/api/console/conversations/{quote(conversation, safe='')}/{action}",
        headers=console.as_(agent),
    )

    assert 400 <= response.status_code < 500, response.text


@hostile
@given(authorization=header_text)
def test_any_authorization_header_is_a_401(console: Console, authorization: str) -> None:
    response = console.http.get("/api/console/me", headers={"Authorization": authorization})

    assert response.status_code == 401
    assert response.json()["error"]["code"] in {"unauthorized", "invalid_token"}


@hostile
@given(last_event_id=header_text | st.from_regex(r"[0-9]{1,20}\.[0-9]{1,20}", fullmatch=True))
def test_any_last_event_id_resumes_the_feed_or_is_refused_clearly(
    console: Console, last_event_id: str
) -> None:
    feed = FeedReader(console, {**console.as_(console.an_agent()), "Last-Event-ID": last_event_id})
    try:
        if feed.status == 200:
            assert feed.next().event == "ready"
    finally:
        feed.close()

    assert feed.status in {200, 400, 422}


@hostile
@given(
    path=st.sampled_from(["/leads", "/leads.csv"]),
    params=st.dictionaries(
        st.sampled_from(["since", "until", "channel", "cursor", "limit"]), field_value
    ),
)
def test_any_leads_query_is_answered_or_refused_clearly(
    console: Console, path: str, params: dict[str, str]
) -> None:
    response = console.get(console.an_agent(), path, **params)

    assert response.status_code in {200, 400, 422}, response.text
    if response.status_code != 200:
        assert set(response.json()["error"]) == {"code", "message"}


webhook_bodies = st.one_of(
    st.fixed_dictionaries(
        {
            "url": st.one_of(any_text, awkward, st.just("https://hooks.example/x")),
            "events": st.lists(
                st.one_of(st.sampled_from(["lead_saved", "call_ended"]), any_text), max_size=4
            ),
        },
        optional={
            "format": st.one_of(st.sampled_from(["standard", "slack"]), any_text),
            "secret": st.one_of(any_text, st.just("whsec_" + "A" * 32)),
        },
    ),
    st.dictionaries(st.sampled_from(["url", "events", "format", "secret", "x"]), json_value),
    json_value,
)


@hostile
@given(body=webhook_bodies)
def test_any_webhook_subscription_is_stored_whole_or_refused_clearly(
    console: Console, body: Any
) -> None:
    admin = console.an_admin()
    before = console.rows("select count(*) from public.webhooks")[0][0]

    response = _post_json(console, admin, "/webhooks", body)

    assert response.status_code in {201, 400, 422}, response.text
    after = console.rows("select count(*) from public.webhooks")[0][0]
    if response.status_code == 201:
        assert after - before in {0, 1}  # a URL already subscribed is updated
        console.http.delete(
            f"/api/console/webhooks/{response.json()['id']}", headers=console.as_(admin)
        )
    else:
        assert set(response.json()["error"]) == {"code", "message"}
        assert after == before


@hostile
@given(
    body=st.one_of(
        st.fixed_dictionaries(
            {"email": st.one_of(any_text, awkward), "name": st.one_of(any_text, awkward)},
            optional={"role": st.one_of(st.sampled_from(["admin", "agent"]), any_text),
                      "user_id": st.one_of(st.uuids().map(str), any_text)},
        ),
        json_value,
    )
)  # fmt: skip
def test_any_staff_body_adds_a_member_whole_or_is_refused_clearly(
    console: Console, body: Any
) -> None:
    admin = console.an_admin()
    before = console.rows("select count(*) from public.agentes")[0][0]

    response = _post_json(console, admin, "/staff", body)

    assert response.status_code in {200, 400, 404, 409, 422}, response.text
    after = console.rows("select count(*) from public.agentes")[0][0]
    assert after - before == (1 if response.status_code == 200 else 0) or (
        response.status_code == 200 and after == before  # an existing member updated
    )


@hostile
@given(contact=st.one_of(any_text, awkward, st.uuids().map(str)))
def test_any_contact_path_to_forget_is_a_clear_error(console: Console, contact: str) -> None:
    response = console.http.post(
        f"/api/console/contacts/{quote(contact, safe='')}/forget",
        headers=console.as_(console.an_admin()),
    )

    assert response.status_code in {404, 405, 422}, response.text
