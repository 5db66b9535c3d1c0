"""Fixtures for apps/voice/tests: a running voice app between the fake model and fake Twilio."""

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import httpx
import pytest

from talia_testkit.fake_openai import FakeOpenAI
from talia_testkit.fake_twilio import FakeTwilio
from talia_testkit.server import serve_app
from talia_testkit.signing import TwilioSigner
from talia_voice.main import create_app

from .voice_kit import Phone, save_voice_profile, voice_settings

OpenPhone = Callable[..., AbstractContextManager[Phone]]


@pytest.fixture
def open_phone(
    database_url: str,
    fake_openai: FakeOpenAI,
    fake_twilio: FakeTwilio,
    twilio_signer: TwilioSigner,
) -> OpenPhone:
    """Start a voice app with call settings of the test's choosing."""

    @contextmanager
    def started(**calls: Any) -> Iterator[Phone]:
        save_voice_profile(database_url)
        settings = voice_settings(database_url, fake_openai.base_url, fake_twilio.base_url, **calls)
        with (
            serve_app(create_app(settings)) as server,
            httpx.Client(base_url=server.http_url) as http,
        ):
            yield Phone(server, http, twilio_signer, fake_openai, fake_twilio)

    return started


@pytest.fixture
def phone(open_phone: OpenPhone) -> Iterator[Phone]:
    """A voice app with the default call settings."""
    with open_phone() as running:
        yield running
