"""The webhook deliverer: sends each subscribed event to each subscription, signed as the
Standard Webhooks spec says, until the receiver takes it or the retries run out.

Deliveries are rows (supabase/schemas/85_webhooks.sql), written with their event. Every
console process runs a deliverer; each claims due rows (`for update skip locked`) for a
while, sends them, and records the outcome, so no two processes send one attempt and a
process that dies mid-send leaves its rows to be claimed again (at least once: receivers
dedupe by `webhook-id`). New events wake the deliverer (`talia_core.changes`); retries that
come due are found by polling.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from typing import Any

import httpx
import psycopg
import structlog

from talia_console.due_work import DueWork
from talia_core.changes import Change, ChangeFeed, EventRecorded
from talia_core.errors import TaliaError
from talia_core.repositories.webhooks import EntregaPendiente, WebhooksRepository
from talia_core.webhooks import (
    TargetNotAllowed,
    WebhookSettings,
    is_public_address,
    sign,
    target_host,
)

log = structlog.stdlib.get_logger("talia.console.webhooks")

_TITLES = {
    "handoff_requested": "A customer is waiting for a person",
    "lead_saved": "A new lead",
    "conversation_closed": "A conversation was closed",
    "delivery_failed": "A message could not be delivered",
    "call_ended": "A call ended",
}
_CHANNELS = {"whatsapp": "WhatsApp", "webchat": "web chat", "voice": "phone"}


def webhook_id(delivery: EntregaPendiente) -> str:
    """The same id on every attempt of one event (receivers dedupe by it)."""
    return f"evt_{delivery.evento_id}"


def standard_body(delivery: EntregaPendiente, console_url: str | None) -> dict[str, Any]:
    """`{"type", "timestamp", "data"}`, the Standard Webhooks payload."""
    conversation = str(delivery.conversacion_id) if delivery.conversacion_id else None
    return {
        "type": delivery.tipo,
        "timestamp": delivery.evento_at.isoformat(),
        "data": {
            "event_id": delivery.evento_id,
            "conversation_id": conversation,
            "contact_id": str(delivery.contacto_id) if delivery.contacto_id else None,
            "channel": delivery.canal,
            "details": delivery.payload,
            "console_url": _link(console_url, conversation),
        },
    }


def slack_body(delivery: EntregaPendiente, console_url: str | None) -> dict[str, Any]:
    """One readable line for a Slack incoming webhook, with a link to the conversation."""
    text = _TITLES.get(delivery.tipo, delivery.tipo)
    if delivery.canal:
        text += f" ({_CHANNELS.get(delivery.canal, delivery.canal)})"
    reason = delivery.payload.get("motivo")
    if isinstance(reason, str) and reason:
        text += f": {_slack_escaped(reason)}"
    conversation = str(delivery.conversacion_id) if delivery.conversacion_id else None
    link = _link(console_url, conversation)
    if link:
        text += f" <{link}|Open in the console>"
    return {"text": text}


def _slack_escaped(text: str) -> str:
    # Slack's mrkdwn control characters; a customer's words must not become links or pings.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _link(console_url: str | None, conversation: str | None) -> str | None:
    if console_url is None or conversation is None:
        return None
    return f"{console_url}/console/#/conversations/{conversation}"


class WebhookDeliverer:
    """Claims due deliveries, sends them, and records each outcome."""

    def __init__(
        self,
        webhooks: WebhooksRepository,
        changes: ChangeFeed,
        http: httpx.AsyncClient,
        settings: WebhookSettings,
        *,
        console_url: str | None,
    ) -> None:
        self._webhooks = webhooks
        self._changes = changes
        self._http = http
        self._settings = settings
        self._console_url = console_url
        self._work = DueWork(
            "webhooks",
            claim=lambda: webhooks.claim(
                limite=settings.batch, plazo_segundos=settings.claim_seconds
            ),
            handle=self._deliver,
            poll_seconds=settings.poll_seconds,
        )

    async def run(self) -> None:
        """Deliver until cancelled; an attempt under way when cancelled is sent again later."""
        with self._changes.subscribe(None, self._wake):
            await self._work.run()

    def _wake(self, change: Change | None) -> None:
        if change is None or isinstance(change, EventRecorded):
            self._work.wake()

    async def _deliver(self, delivery: EntregaPendiente) -> None:
        formatted = slack_body if delivery.formato == "slack" else standard_body
        body = json.dumps(formatted(delivery, self._console_url), ensure_ascii=False).encode()
        message_id = webhook_id(delivery)
        timestamp = int(time.time())
        headers = {
            "content-type": "application/json",
            "webhook-id": message_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(
                delivery.secreto, webhook_id=message_id, timestamp=timestamp, body=body
            ),
        }
        status: int | None = None
        error: str | None = None
        try:
            await self._check_resolved(delivery.url)
            response = await self._http.post(delivery.url, content=body, headers=headers)
            status = response.status_code
            if not 200 <= status < 300:
                error = f"HTTP {status}"
        except (httpx.HTTPError, OSError, TaliaError) as exc:  # TaliaError: a refused target
            error = type(exc).__name__
        retry_in = None if error is None else self._retry_after(delivery.intento)
        try:
            await self._webhooks.settle(
                delivery.entrega_id,
                entregada=error is None,
                status=status,
                error=error,
                reintentar_en=retry_in,
            )
        except psycopg.Error as exc:  # its claim lapses, and it is sent again
            log.warning("webhook_outcome_unrecorded", error=type(exc).__name__)
        # No URL in logs: a Slack webhook's URL is its credential.
        log.info(
            "webhook_sent" if error is None else "webhook_not_taken",
            webhook=str(delivery.webhook_id),
            event_type=delivery.tipo,
            attempt=delivery.intento,
            status=status,
            error=error,
            retry_in=retry_in,
        )

    def _retry_after(self, attempt: int) -> float | None:
        """Seconds until the next attempt, or None after the last one."""
        schedule = self._settings.retry_seconds
        if attempt > len(schedule):
            return None
        return schedule[attempt - 1] * random.uniform(0.9, 1.1)  # noqa: S311  # jitter

    async def _check_resolved(self, url: str) -> None:
        """Refuse a name that resolves to a loopback, private or link-local address."""
        host, port = target_host(url)
        if self._settings.allow_private_targets:
            return
        infos = await asyncio.get_running_loop().getaddrinfo(host, port)
        if not infos or not all(is_public_address(str(info[4][0])) for info in infos):
            raise TargetNotAllowed
