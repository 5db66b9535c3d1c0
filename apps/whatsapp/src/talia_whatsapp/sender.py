"""Sending WhatsApp messages through the Twilio REST API, with its errors mapped.

Twilio's Messages API takes no idempotency key, so a send whose answer was lost (a transport
error, or a worker killed mid-request) is *in doubt*; `sent_like` settles it by reading the
messages Twilio holds for the person before anything is sent again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import aiohttp
import structlog
from opentelemetry.trace import SpanKind, StatusCode
from twilio.base import values
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from talia_core.clients.twilio import TWILIO_TRANSPORT_ERRORS
from talia_core.retries import Backoff
from talia_core.tracing import span

log = structlog.stdlib.get_logger("talia.whatsapp.sender")

# Twilio error codes (https://www.twilio.com/docs/api/errors).
TOO_MANY_REQUESTS = 20429
OUTSIDE_SESSION_WINDOW = 63016  # more than 24 h since the person last wrote
# Four retries, about 1, 2, 4 and 8 s apart.
SEND_BACKOFF = Backoff(attempts=5, first_wait=1.0, longest_wait=8.0)
# How many of the person's latest messages a reconciliation reads, and how far before the
# send it looks (the two clocks, ours and Twilio's, may disagree a little).
RECENT_MESSAGES = 50
CLOCK_SKEW = timedelta(minutes=2)


@dataclass(frozen=True)
class Sent:
    """Twilio accepted the message."""

    sid: str


@dataclass(frozen=True)
class NotSent:
    """Twilio refused the message (or could not be reached); `code` is Twilio's error code."""

    code: str
    status: int | None = None

    @property
    def outside_session_window(self) -> bool:
        """The 24-hour window is closed: only a template could reach the person now."""
        return self.code == str(OUTSIDE_SESSION_WINDOW)


@dataclass(frozen=True)
class InDoubt:
    """The request may have reached Twilio, but no answer came back."""

    error: str


def _safe_to_repeat(exc: BaseException) -> bool:
    """Throttled by Twilio, or refused before anything was sent."""
    if isinstance(exc, TwilioRestException):
        return bool(exc.status == 429 or exc.code == TOO_MANY_REQUESTS)
    return isinstance(exc, aiohttp.ClientConnectorError)


class WhatsAppSender:
    """Creates messages from the configured sender (a number or a Messaging Service)."""

    def __init__(
        self,
        client: Client,
        *,
        from_: str | None,
        messaging_service_sid: str | None,
        status_callback: str | None,
        backoff: Backoff = SEND_BACKOFF,
    ) -> None:
        if not from_ and not messaging_service_sid:
            raise ValueError("a WhatsApp sender or a Messaging Service is required")
        self._client = client
        self._from = from_
        self._service = messaging_service_sid
        self._status_callback = status_callback
        self._backoff = backoff

    async def send(self, *, to: str, body: str) -> Sent | NotSent | InDoubt:
        """Send `body` to `to`; 429s and refused connections are retried with backoff."""
        with span("twilio messages.create", kind=SpanKind.CLIENT) as current:
            outcome = await self._send(to=to, body=body)
            match outcome:
                case Sent(sid):
                    current.set_attribute("talia.twilio.message_sid", sid)
                case NotSent(code):
                    current.set_status(StatusCode.ERROR, "not sent")
                    current.set_attribute("talia.twilio.error_code", code)
                case InDoubt(error):
                    current.set_status(StatusCode.ERROR, "in doubt")
                    current.set_attribute("error.type", error)
            return outcome

    async def _send(self, *, to: str, body: str) -> Sent | NotSent | InDoubt:
        try:
            message = await self._backoff.call(
                _safe_to_repeat,
                "twilio_send",
                self._client.messages.create_async,
                to=to,
                body=body,
                from_=self._from or values.unset,
                messaging_service_sid=self._service or values.unset,
                status_callback=self._status_callback or values.unset,
            )
        except TwilioRestException as exc:
            log.warning("message_not_sent", status=exc.status, code=exc.code)
            return NotSent(str(exc.code or exc.status), exc.status)
        except aiohttp.ClientConnectorError:
            return NotSent("unreachable")
        except TWILIO_TRANSPORT_ERRORS as exc:
            # The request may have reached Twilio: never sent again blindly.
            log.warning("message_send_in_doubt", error=type(exc).__name__)
            return InDoubt(type(exc).__name__)
        return Sent(str(message.sid))

    async def sent_like(self, *, to: str, body: str, since: datetime) -> list[str]:
        """SIDs of the messages Twilio took for `to` with this `body` since `since` (give or
        take the clocks' skew), oldest first.

        Raises Twilio's errors: a reconciliation that cannot read must not guess.
        """
        with span("twilio messages.list", kind=SpanKind.CLIENT):
            recent = await self._client.messages.list_async(to=to, limit=RECENT_MESSAGES)
        return [
            str(message.sid)
            for message in reversed(recent)  # Twilio lists the newest first
            if message.body == body
            and str(message.direction).startswith("outbound")
            and (message.date_created is None or message.date_created >= since - CLOCK_SKEW)
        ]
