"""Changing a live call through the Twilio REST API: transfer it, or end it with words."""

from __future__ import annotations

import structlog
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from talia_core.clients.twilio import TWILIO_TRANSPORT_ERRORS
from talia_voice import twiml

log = structlog.stdlib.get_logger("talia.voice.control")


class CallControl:
    """Replaces a call's TwiML; the media stream then stops and Twilio runs the new TwiML."""

    def __init__(self, client: Client) -> None:
        self._client = client

    async def transfer(
        self, call_sid: str, *, number: str, announcement: str | None, language: str | None
    ) -> bool:
        """Dial `number` (after the announcement); False when Twilio refused."""
        return await self._update(
            call_sid, twiml.dial(number, announcement=announcement, language=language)
        )

    async def say_and_hang_up(self, call_sid: str, text: str, *, language: str | None) -> bool:
        """Say `text` and end the call; False when Twilio refused (the call may be gone)."""
        return await self._update(call_sid, twiml.say_and_hang_up(text, language=language))

    async def _update(self, call_sid: str, document: str) -> bool:
        try:
            await self._client.calls(call_sid).update_async(twiml=document)
        except TwilioRestException as exc:
            log.warning("call_update_failed", status=exc.status, code=exc.code)
            return False
        except TWILIO_TRANSPORT_ERRORS as exc:
            log.warning("call_update_failed", error=type(exc).__name__)
            return False
        return True
