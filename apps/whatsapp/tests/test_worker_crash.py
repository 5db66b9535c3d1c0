"""A worker killed mid-job: after a restart the customer gets exactly one reply."""

import signal

from talia_testkit.fake_openai import Turn

from .conftest import OpenWhatsApp, StartWorker
from .whatsapp_kit import wait_for


def test_killing_the_worker_mid_reply_and_restarting_sends_exactly_one_reply(
    open_whatsapp: OpenWhatsApp, start_worker: StartWorker
) -> None:
    with open_whatsapp(run_worker=False) as whatsapp:
        whatsapp.fake.add_turns(Turn(text="respuesta lenta", delay=30))
        first = start_worker()
        whatsapp.send("hola")
        wait_for(lambda: whatsapp.fake.requests("/v1/responses"), timeout=20)

        first.send_signal(signal.SIGKILL)  # dies while the model is answering
        first.communicate(timeout=10)
        start_worker()
        wait_for(whatsapp.twilio.sent_messages, timeout=30)
        wait_for(whatsapp.settled, timeout=10)

        assert len(whatsapp.twilio.sent_messages()) == 1
        assert whatsapp.rows(
            "select count(*) from public.mensajes where direccion = 'outbound'"
        ) == [(1,)]
        assert whatsapp.rows("select status from public.procrastinate_jobs") == [("succeeded",)]
        assert len(whatsapp.fake.requests("/v1/responses")) == 2  # asked again after the kill
