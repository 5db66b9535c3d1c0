"""A worker killed mid-job: after a restart the customer gets exactly one reply."""

import signal
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from talia_testkit.fake_openai import FakeOpenAI, Turn
from talia_testkit.fake_twilio import FakeTwilio
from talia_testkit.plugin import TEST_ACCOUNT_SID, TEST_AUTH_TOKEN
from talia_testkit.processes import start_python

from .conftest import OpenWhatsApp
from .whatsapp_kit import wait_for

StartWorker = Callable[[], subprocess.Popen[str]]


@pytest.fixture
def start_worker(
    database_url: str, fake_openai: FakeOpenAI, fake_twilio: FakeTwilio, tmp_path: Path
) -> Iterator[StartWorker]:
    """Start `talia-whatsapp worker` as its own process, as when scaled out."""
    started: list[subprocess.Popen[str]] = []

    def start() -> subprocess.Popen[str]:
        process = start_python(
            ["-c", "from talia_whatsapp.cli import main; main(['worker'])"],
            cwd=tmp_path,
            env={
                "DATABASE_URL": database_url,
                "TWILIO_ACCOUNT_SID": TEST_ACCOUNT_SID,
                "TWILIO_AUTH_TOKEN": TEST_AUTH_TOKEN,
                "TWILIO_API_BASE_URL": fake_twilio.base_url,
                "TWILIO_WHATSAPP_FROM": "whatsapp:+14155238886",
                "OPENAI_API_KEY": "sk-test",
                "OPENAI_BASE_URL": fake_openai.base_url,
                "TALIA_WHATSAPP_POLL_SECONDS": "0.1",
                "TALIA_WHATSAPP_HEARTBEAT_SECONDS": "0.5",
                "TALIA_WHATSAPP_STALLED_AFTER_SECONDS": "2",
            },
        )
        started.append(process)
        return process

    yield start
    for process in started:
        process.kill()
        process.communicate(timeout=10)


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
