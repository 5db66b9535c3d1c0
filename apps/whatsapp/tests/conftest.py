"""Fixtures for apps/whatsapp/tests: a running app between the fake model and fake Twilio."""

import subprocess
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from talia_testkit.fake_openai import FakeOpenAI
from talia_testkit.fake_twilio import FakeTwilio
from talia_testkit.plugin import TEST_ACCOUNT_SID, TEST_AUTH_TOKEN
from talia_testkit.processes import start_python
from talia_testkit.server import serve_app
from talia_testkit.signing import TwilioSigner
from talia_whatsapp.main import create_app

from .whatsapp_kit import WhatsApp, save_profile, whatsapp_settings

OpenWhatsApp = Callable[..., AbstractContextManager[WhatsApp]]


@pytest.fixture
def open_whatsapp(
    database_url: str,
    fake_openai: FakeOpenAI,
    fake_twilio: FakeTwilio,
    twilio_signer: TwilioSigner,
) -> OpenWhatsApp:
    """Start the app with reply settings of the test's choosing (and, for fault tests,
    a database of the test's own)."""

    @contextmanager
    def started(*, database: str = database_url, **whatsapp: Any) -> Iterator[WhatsApp]:
        save_profile(database)
        settings = whatsapp_settings(
            database, fake_openai.base_url, fake_twilio.base_url, **whatsapp
        )
        with (
            serve_app(create_app(settings)) as server,
            httpx.Client(base_url=server.http_url) as http,
        ):
            yield WhatsApp(http, twilio_signer, fake_openai, fake_twilio, database)

    return started


@pytest.fixture
def whatsapp(open_whatsapp: OpenWhatsApp) -> Iterator[WhatsApp]:
    """The app with quick test settings."""
    with open_whatsapp() as running:
        yield running


StartWorker = Callable[..., subprocess.Popen[str]]


@pytest.fixture
def start_worker(
    database_url: str, fake_openai: FakeOpenAI, fake_twilio: FakeTwilio, tmp_path: Path
) -> Iterator[StartWorker]:
    """Start `talia-whatsapp worker` as its own process, as when scaled out."""
    started: list[subprocess.Popen[str]] = []

    def start(database: str = database_url) -> subprocess.Popen[str]:
        process = start_python(
            ["-c", "from talia_whatsapp.cli import main; main(['worker'])"],
            cwd=tmp_path,
            env={
                "DATABASE_URL": database,
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
