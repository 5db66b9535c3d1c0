"""A worker killed mid-job: after a restart the customer gets exactly one reply."""

import signal

import pytest

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


@pytest.mark.parametrize(
    "twilio_took_it", [True, False], ids=["after-twilio-took-it", "before-twilio-took-it"]
)
def test_killing_the_worker_mid_send_and_restarting_sends_exactly_one_reply(
    open_whatsapp: OpenWhatsApp, start_worker: StartWorker, twilio_took_it: bool
) -> None:
    with open_whatsapp(run_worker=False) as whatsapp:
        whatsapp.fake.add_turns(Turn(text="la respuesta"))
        whatsapp.twilio.stall_next_message(5, accepted=twilio_took_it)
        first = start_worker()
        whatsapp.send("hola")
        wait_for(whatsapp.twilio.sent_messages, timeout=20)  # the send is at Twilio...

        first.send_signal(signal.SIGKILL)  # ...and the worker dies before hearing back
        first.communicate(timeout=10)
        start_worker()
        wait_for(
            lambda: whatsapp.rows(
                "select 1 from public.mensajes where direccion = 'outbound'"
                " and proveedor_id is not null"
            ),
            timeout=30,
        )
        wait_for(whatsapp.settled, timeout=10)
        wait_for(lambda: len(whatsapp.twilio.sent_messages()) == 1, timeout=10)

        taken = list(whatsapp.twilio.messages)
        posts = len(whatsapp.twilio.sent_messages())

    assert len(taken) == 1  # Twilio holds one reply for the customer
    assert posts == 1
    assert whatsapp.rows(
        "select proveedor_id, estado_entrega, contenido from public.mensajes"
        " where direccion = 'outbound'"
    ) == [(taken[0], "sending", "la respuesta")]
