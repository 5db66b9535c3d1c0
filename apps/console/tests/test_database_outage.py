"""The database goes away during the staff's work: a clear 503, nothing half-written, and
the same reply sent again once it is back is stored once."""

import time
from collections.abc import Callable

import httpx

from talia_testkit.database import RestartableDatabase

from .console_kit import running_console


def _honouring_retry_after(send: Callable[[], httpx.Response]) -> httpx.Response:
    """As a client does: a 503 is sent again after its Retry-After, for up to 15 s."""
    deadline = time.monotonic() + 15
    while (response := send()).status_code == 503 and time.monotonic() < deadline:
        time.sleep(float(response.headers["retry-after"]))
    return response


def test_a_reply_while_the_database_is_down_is_a_503_and_its_retry_is_stored_once(
    restartable_database: RestartableDatabase,
) -> None:
    with running_console(restartable_database.url) as console:
        ana = console.staff("Ana")
        conversation = console.conversation()
        console.hand_off(conversation)
        reply = {"text": "Hola, soy Ana"}
        restartable_database.stop()
        during = console.post(
            ana, f"/conversations/{conversation}/reply", reply, **{"Idempotency-Key": "r-1"}
        )
        restartable_database.start()
        after = _honouring_retry_after(
            lambda: console.post(
                ana, f"/conversations/{conversation}/reply", reply, **{"Idempotency-Key": "r-1"}
            )
        )
        again = console.post(
            ana, f"/conversations/{conversation}/reply", reply, **{"Idempotency-Key": "r-1"}
        )
        stored = console.rows(
            "select (select count(*) from public.mensajes where rol = 'staff'),"
            " (select count(*) from public.eventos where tipo = 'agent_replied')"
        )

    assert during.status_code == 503
    assert during.json()["error"]["code"] == "database_unavailable"
    assert during.headers["retry-after"] == "1"
    assert (after.status_code, after.json()["repeated"]) == (201, False)
    assert (again.status_code, again.json()["repeated"]) == (201, True)
    assert stored == [(1, 1)]
