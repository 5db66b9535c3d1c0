"""The database goes away and comes back: webhooks say so quickly, and nothing is lost."""

import time
from collections.abc import Callable

import httpx
import psycopg

from talia_testkit.database import RestartableDatabase
from talia_testkit.fake_openai import Turn

from .conftest import OpenWhatsApp, StartWorker
from .whatsapp_kit import wait_for


def _timed(send: Callable[[], httpx.Response]) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = send()
    return response, time.monotonic() - started


def test_while_the_database_is_down_webhooks_answer_503_quickly_in_our_error_shape(
    open_whatsapp: OpenWhatsApp, restartable_database: RestartableDatabase
) -> None:
    with open_whatsapp(database=restartable_database.url) as whatsapp:
        before = whatsapp.send("antes")
        restartable_database.stop()
        first, first_seconds = _timed(lambda: whatsapp.send("durante uno"))
        second, second_seconds = _timed(lambda: whatsapp.send("durante dos"))
        metrics_while_down = whatsapp.http.get("/metrics")
        restartable_database.start()
        after = whatsapp.send("después")

    assert before.status_code == 200
    for response in (first, second):
        assert response.status_code == 503
        assert response.json() == {
            "error": {"code": "database_unavailable", "message": "The database does not answer."}
        }
        assert response.headers["retry-after"] == "1"
    # The first waits out one checkout timeout (2 s); once the pool knows, the rest are quick.
    assert first_seconds < 3.0
    assert second_seconds < 1.0
    assert metrics_while_down.status_code == 200  # the last figures, not an error
    assert after.status_code == 200


def test_the_first_webhook_after_a_database_restart_succeeds(
    open_whatsapp: OpenWhatsApp, restartable_database: RestartableDatabase
) -> None:
    with open_whatsapp(database=restartable_database.url, pool_min_size=4) as whatsapp:
        for n in range(4):  # several pooled connections, all of them soon stale
            assert whatsapp.send(f"antes {n}").status_code == 200
        restartable_database.stop()
        restartable_database.start()
        responses = [whatsapp.send(f"después {n}") for n in range(3)]
        wait_for(lambda: len(whatsapp.replies()) >= 1, timeout=20)
        stored = whatsapp.rows("select count(*) from public.mensajes where direccion = 'inbound'")

    assert [r.status_code for r in responses] == [200, 200, 200]
    assert stored == [(7,)]


def test_the_reply_worker_rides_out_an_outage_and_answers_what_waited(
    open_whatsapp: OpenWhatsApp, restartable_database: RestartableDatabase
) -> None:
    with open_whatsapp(database=restartable_database.url, debounce_ms=1500) as whatsapp:
        whatsapp.fake.add_turns(Turn(text="uno"), Turn(text="dos"), Turn(text="tres"))
        whatsapp.send("primera")
        wait_for(lambda: whatsapp.replies() == ["uno"], timeout=20)
        # The next reply job waits out the debounce; the database goes before it runs.
        whatsapp.send("antes del corte")
        restartable_database.stop()
        time.sleep(6)  # longer than a fetch takes to fail: the old worker had died by now
        ready_while_down = whatsapp.http.get("/ready")
        restartable_database.start()
        wait_for(lambda: whatsapp.http.get("/ready").status_code == 200, timeout=30)
        wait_for(lambda: len(whatsapp.replies()) == 2, timeout=30)
        whatsapp.send("después del corte")
        wait_for(lambda: len(whatsapp.replies()) == 3, timeout=30)
        wait_for(whatsapp.settled, timeout=10)

    assert ready_while_down.status_code == 503
    assert whatsapp.replies() == ["uno", "dos", "tres"]
    assert whatsapp.rows(
        "select contenido from public.mensajes where direccion = 'inbound' order by mensaje_id"
    ) == [("primera",), ("antes del corte",), ("después del corte",)]


def test_a_standalone_worker_rides_out_an_outage(
    open_whatsapp: OpenWhatsApp,
    start_worker: StartWorker,
    restartable_database: RestartableDatabase,
) -> None:
    with open_whatsapp(database=restartable_database.url, run_worker=False) as whatsapp:
        whatsapp.fake.add_turns(Turn(text="uno"), Turn(text="dos"))
        worker = start_worker(restartable_database.url)
        whatsapp.send("antes del corte")
        wait_for(lambda: whatsapp.replies() == ["uno"], timeout=20)
        restartable_database.stop()
        time.sleep(6)
        restartable_database.start()
        whatsapp.send("después del corte")
        wait_for(lambda: len(whatsapp.replies()) == 2, timeout=30)

    assert worker.poll() is None  # still running
    assert whatsapp.replies() == ["uno", "dos"]


def test_a_worker_that_fails_for_another_reason_exits_for_a_restart(
    start_worker: StartWorker, restartable_database: RestartableDatabase
) -> None:
    worker = start_worker(restartable_database.url)
    time.sleep(1)  # the worker is fetching jobs
    with psycopg.connect(restartable_database.url, autocommit=True) as conn:
        conn.execute("drop function public.procrastinate_fetch_job_v2")  # a broken deploy

    output, _ = worker.communicate(timeout=30)

    assert worker.returncode == 1
    assert '"event": "reply_worker_died"' in output
    assert "Traceback" not in output
