"""`talia webhooks add|list|remove`: where TalIA tells other systems what happened."""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import cast
from urllib.parse import urlsplit
from uuid import UUID

from talia_core.database_commands import Handler, on_configured_database
from talia_core.db import single_connection_pool
from talia_core.repositories.webhooks import Formato, WebhooksRepository
from talia_core.webhooks import WebhookSettings, check_target, new_secret


@asynccontextmanager
async def _webhooks(url: str) -> AsyncIterator[WebhooksRepository]:
    async with single_connection_pool(url) as pool:
        yield WebhooksRepository(pool)


def shown_url(url: str) -> str:
    """A target without what may be a credential (a Slack URL's path is its secret)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path[:12]}{'…' if len(parts.path) > 12 else ''}"


async def _add(args: argparse.Namespace, url: str) -> str:
    check_target(args.url, allow_private=WebhookSettings().allow_private_targets)
    secret = args.secret or new_secret()
    events = [event.strip() for event in args.events.split(",") if event.strip()]
    async with _webhooks(url) as webhooks:
        saved = await webhooks.save(
            url=args.url, eventos=events, secreto=secret, formato=cast("Formato", args.format)
        )
    told = "" if args.secret else f"signing secret (shown once): {secret}\n"
    return (
        f"subscribed {saved.webhook_id} {shown_url(saved.url)} to {','.join(saved.eventos)}\n{told}"
    )


async def _list(_: argparse.Namespace, url: str) -> str:
    async with _webhooks(url) as webhooks:
        subscriptions = await webhooks.every()
    if not subscriptions:
        return "no webhooks yet: talia webhooks add URL --events handoff_requested,lead_saved\n"
    return "".join(
        f"{w.webhook_id}  {w.formato:8}  {','.join(w.eventos)}  {shown_url(w.url)}\n"
        for w in subscriptions
    )


async def _remove(args: argparse.Namespace, url: str) -> str:
    async with _webhooks(url) as webhooks:
        if not await webhooks.remove(args.id):
            raise SystemExit(f"talia: no webhook has the id {args.id}")
    return f"removed {args.id}\n"


def add_webhook_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> Handler:
    """Add `talia webhooks ...` to the parser; its handler."""
    parser = commands.add_parser("webhooks", help="where to send handoffs, leads and more")
    actions = parser.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", help="subscribe a URL to events (or change its subscription)")
    add.add_argument("url")
    add.add_argument(
        "--events",
        required=True,
        help="comma-separated: handoff_requested, lead_saved, conversation_closed,"
        " delivery_failed, call_ended",
    )
    add.add_argument("--secret", help="whsec_... (default: a new one, printed once)")
    add.add_argument(
        "--format",
        choices=["standard", "slack"],
        default="standard",
        help="slack: a readable line for a Slack incoming webhook",
    )
    add.set_defaults(run=_add)
    actions.add_parser("list", help="every subscription").set_defaults(run=_list)
    remove = actions.add_parser("remove", help="remove a subscription and its deliveries")
    remove.add_argument("id", type=UUID)
    remove.set_defaults(run=_remove)
    return on_configured_database
