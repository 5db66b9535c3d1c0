"""The fake Twilio, driven through the real twilio SDK and our client factory."""

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from twilio.base.exceptions import TwilioRestException

from talia_core.clients.twilio import close_twilio_client, create_twilio_client
from talia_core.config import TwilioSettings
from talia_testkit.fake_twilio import FakeTwilio
from talia_testkit.plugin import TEST_ACCOUNT_SID, TEST_AUTH_TOKEN


def _settings(fake: FakeTwilio, token: str = TEST_AUTH_TOKEN) -> TwilioSettings:
    return TwilioSettings(
        _env_file=None,
        account_sid=TEST_ACCOUNT_SID,
        auth_token=SecretStr(token),
        api_base_url=fake.base_url,  # type: ignore[arg-type]  # pydantic parses the URL
    )


@pytest.fixture
async def client(fake_twilio: FakeTwilio) -> AsyncIterator[Any]:
    twilio = create_twilio_client(_settings(fake_twilio))
    yield twilio
    await close_twilio_client(twilio)


async def test_message_create_is_recorded_with_its_from_to_and_body(
    fake_twilio: FakeTwilio, client: Any
) -> None:
    message = await client.messages.create_async(
        from_="whatsapp:+14155238886", to="whatsapp:+5215512345678", body="Hola"
    )

    sent = fake_twilio.sent_messages()
    assert message.sid.startswith("SM")
    assert message.status == "queued"
    assert [(r.field("From"), r.field("To"), r.field("Body")) for r in sent] == [
        ("whatsapp:+14155238886", "whatsapp:+5215512345678", "Hola")
    ]


async def test_wrong_credentials_are_refused_with_401(fake_twilio: FakeTwilio) -> None:
    twilio = create_twilio_client(_settings(fake_twilio, token="0" * 32))
    try:
        with pytest.raises(TwilioRestException) as caught:
            await twilio.messages.create_async(from_="whatsapp:+1", to="whatsapp:+2", body="x")
    finally:
        await close_twilio_client(twilio)

    assert caught.value.status == 401
    assert fake_twilio.sent_messages() == []


@pytest.mark.parametrize(("status", "code"), [(429, 20429), (400, 63016)])
async def test_scripted_failures_reach_the_sdk_with_their_code(
    fake_twilio: FakeTwilio, client: Any, status: int, code: int
) -> None:
    fake_twilio.fail_next(status, code)

    with pytest.raises(TwilioRestException) as caught:
        await client.messages.create_async(from_="whatsapp:+1", to="whatsapp:+2", body="x")

    assert (caught.value.status, caught.value.code) == (status, code)


async def test_call_update_with_twiml_is_recorded(fake_twilio: FakeTwilio, client: Any) -> None:
    twiml = "<Response><Dial>+34910000000</Dial></Response>"

    await client.calls("CA" + "1" * 32).update_async(twiml=twiml)

    updates = fake_twilio.calls_updates()
    assert [u.field("Twiml") for u in updates] == [twiml]


async def test_typing_indicator_is_accepted(fake_twilio: FakeTwilio, client: Any) -> None:
    result = await client.messaging.v2.typing_indicator.create_async(
        channel="whatsapp", message_id="SM" + "2" * 32
    )

    assert result.success is True


def test_media_download_redirects_to_a_cdn_without_credentials(fake_twilio: FakeTwilio) -> None:
    url = fake_twilio.add_media(b"OggS-voice-note", "audio/ogg")

    with httpx.Client(auth=(TEST_ACCOUNT_SID, TEST_AUTH_TOKEN)) as http:
        first = http.get(url)
    redirected = httpx.get(first.headers["location"])
    anonymous = httpx.get(url)

    assert first.status_code == 307
    assert (redirected.status_code, redirected.content) == (200, b"OggS-voice-note")
    assert anonymous.status_code == 401
