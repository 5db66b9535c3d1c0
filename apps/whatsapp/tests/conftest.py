"""Fixtures for apps/whatsapp/tests: a running app between the fake model and fake Twilio."""

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import httpx
import pytest

from talia_testkit.fake_openai import FakeOpenAI
from talia_testkit.fake_twilio import FakeTwilio
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
    """Start the app with reply settings of the test's choosing."""

    @contextmanager
    def started(**whatsapp: Any) -> Iterator[WhatsApp]:
        save_profile(database_url)
        settings = whatsapp_settings(
            database_url, fake_openai.base_url, fake_twilio.base_url, **whatsapp
        )
        with (
            serve_app(create_app(settings)) as server,
            httpx.Client(base_url=server.http_url) as http,
        ):
            yield WhatsApp(http, twilio_signer, fake_openai, fake_twilio, database_url)

    return started


@pytest.fixture
def whatsapp(open_whatsapp: OpenWhatsApp) -> Iterator[WhatsApp]:
    """The app with quick test settings."""
    with open_whatsapp() as running:
        yield running
