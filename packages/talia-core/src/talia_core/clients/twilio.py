"""The official `twilio` SDK client on its async HTTP client, optionally pointed elsewhere."""

from __future__ import annotations

from typing import Any, Final

import aiohttp
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client

from talia_core.config import TwilioSettings

# Twilio was not reached or did not answer in time (its own errors are TwilioRestException).
TWILIO_TRANSPORT_ERRORS: Final = (aiohttp.ClientError, TimeoutError)


class _TimedHttpClient(AsyncTwilioHttpClient):  # type: ignore[misc]  # twilio is untyped
    """twilio's async HTTP client keeps the timeout it is given but never applies it (a call
    could wait for aiohttp's five minutes): every request gets it here."""

    async def request(
        self,
        *args: Any,
        timeout: float | None = None,  # noqa: ASYNC109  # the signature it overrides
        **kwargs: Any,
    ) -> Any:
        return await super().request(*args, timeout=timeout or self.timeout, **kwargs)


def create_twilio_client(settings: TwilioSettings) -> Client:
    """A `twilio.rest.Client` for `*_async` calls; close it with `close_twilio_client`."""
    client = Client(
        settings.account_sid,
        settings.auth_token.get_secret_value(),
        http_client=_TimedHttpClient(timeout=settings.timeout_seconds),
    )
    if settings.api_base_url is not None:
        # Tests and local fakes: every REST domain we call goes to one base URL.
        base_url = str(settings.api_base_url).rstrip("/")
        client.api.base_url = base_url
        client.messaging.base_url = base_url
    return client


async def close_twilio_client(client: Client) -> None:
    """Release the async HTTP session."""
    await client.http_client.close()
