"""Downloading a message's media from Twilio: authenticated, redirect followed, size-capped."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from pydantic import SecretStr


class MediaUnavailable(Exception):
    """The media could not be fetched, or is over the size cap."""


@dataclass(frozen=True)
class Downloaded:
    """Media bytes and their content type."""

    content: bytes
    content_type: str


class MediaFetcher:
    """Fetches Twilio-hosted media with the account's credentials.

    Twilio answers with a redirect to a short-lived CDN address that needs no credentials;
    the credentials are sent to Twilio only, never to where it redirects.
    """

    def __init__(
        self, *, account_sid: str, auth_token: SecretStr, max_bytes: int, timeout: float = 20.0
    ) -> None:
        self._auth = (account_sid, auth_token.get_secret_value())
        self._max_bytes = max_bytes
        self._client = httpx.AsyncClient(follow_redirects=False, timeout=timeout)

    async def fetch(self, url: str) -> Downloaded:
        """The media at `url`; `MediaUnavailable` past the cap or on any HTTP failure."""
        try:
            first = await self._client.get(url, auth=self._auth)
            if first.is_redirect and "location" in first.headers:
                url = str(first.url.join(first.headers["location"]))
            elif first.status_code == httpx.codes.OK:
                return self._within_cap(first.content, first.headers)
            else:
                raise MediaUnavailable(f"media answered HTTP {first.status_code}")
            async with self._client.stream("GET", url) as response:
                if response.status_code != httpx.codes.OK:
                    raise MediaUnavailable(f"media answered HTTP {response.status_code}")
                declared = int(response.headers.get("content-length") or 0)
                if declared > self._max_bytes:
                    raise MediaUnavailable(f"media is {declared} bytes, over the cap")
                content = bytearray()
                async for chunk in response.aiter_bytes():
                    content.extend(chunk)
                    if len(content) > self._max_bytes:
                        raise MediaUnavailable("media is over the cap")
                content_type = response.headers.get("content-type", "application/octet-stream")
                return Downloaded(bytes(content), content_type.split(";")[0].strip())
        except httpx.HTTPError as exc:
            raise MediaUnavailable(f"media could not be fetched: {type(exc).__name__}") from exc

    def _within_cap(self, content: bytes, headers: httpx.Headers) -> Downloaded:
        if len(content) > self._max_bytes:
            raise MediaUnavailable("media is over the cap")
        content_type = headers.get("content-type", "application/octet-stream")
        return Downloaded(content, content_type.split(";")[0].strip())

    async def close(self) -> None:
        """Release connections."""
        await self._client.aclose()
