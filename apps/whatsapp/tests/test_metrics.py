"""What /metrics tells an operator about replies: the queue, the jobs, the deliveries."""

import re
import time

from .conftest import OpenWhatsApp
from .whatsapp_kit import wait_for


def _value(metrics: str, series: str) -> float:
    found = re.search(rf"^{re.escape(series)} (\S+)$", metrics, re.MULTILINE)
    assert found is not None, f"{series} is not in /metrics"
    return float(found[1])


def test_metrics_count_jobs_and_deliveries_by_outcome(open_whatsapp: OpenWhatsApp) -> None:
    with open_whatsapp() as whatsapp:
        whatsapp.send("hola")
        wait_for(whatsapp.twilio.sent_messages)
        wait_for(whatsapp.settled)
        whatsapp.twilio.fail_next(400, 63016, "Failed to send freeform message")
        whatsapp.send("¿seguís ahí?")
        wait_for(
            lambda: whatsapp.rows("select 1 from public.eventos where tipo = 'delivery_failed'")
        )
        wait_for(whatsapp.settled)
        metrics = whatsapp.http.get("/metrics").text

    assert _value(metrics, 'talia_reply_jobs_finished_total{outcome="succeeded"}') == 2
    delivered = 'talia_whatsapp_deliveries_total{error_code="none",status="accepted"}'
    refused = 'talia_whatsapp_deliveries_total{error_code="63016",status="failed"}'
    assert _value(metrics, delivered) == 1
    assert _value(metrics, refused) == 1
    assert _value(metrics, 'talia_reply_jobs{status="todo"}') == 0
    assert _value(metrics, "talia_reply_worker_working") == 1
    model_answered = 'talia_model_replies_total{channel="whatsapp",outcome="answered"}'
    assert _value(metrics, model_answered) == 2  # the second failed at Twilio, not the model


def test_metrics_show_a_due_job_that_no_worker_takes(open_whatsapp: OpenWhatsApp) -> None:
    with open_whatsapp(run_worker=False) as whatsapp:
        whatsapp.send("hola")
        time.sleep(0.6)  # past the 100 ms quiet wait: due, and no worker here to run it
        metrics = whatsapp.http.get("/metrics").text

    assert _value(metrics, 'talia_reply_jobs{status="todo"}') == 1
    assert _value(metrics, "talia_reply_job_oldest_due_seconds") >= 0.4
