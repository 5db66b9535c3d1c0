"""The staff console app: `uvicorn talia_console.main:app`."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from talia_console.auth import SigningKeys, TokenVerifier
from talia_console.config import Settings
from talia_console.deps import ConsoleState
from talia_console.erasure import Eraser
from talia_console.feed import FeedHub
from talia_console.page import router as page_router
from talia_console.router import router
from talia_console.service import ConsoleService
from talia_console.webhooks import WebhookDeliverer
from talia_core.app import create_service_app, lazy_app
from talia_core.changes import ChangeFeed
from talia_core.clients.openai import create_openai_client
from talia_core.clients.twilio import close_twilio_client, create_twilio_client
from talia_core.config import settings_or_exit
from talia_core.repositories.agentes import AgentesRepository
from talia_core.repositories.borrados import BorradosRepository
from talia_core.repositories.novedades import NovedadesRepository
from talia_core.repositories.webhooks import WebhooksRepository
from talia_core.state import CoreState


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; nothing opens until its lifespan starts."""
    settings = settings or settings_or_exit(Settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI, core: CoreState) -> AsyncIterator[None]:
        supabase = settings.supabase
        openai_client = create_openai_client(settings.openai)
        twilio = create_twilio_client(settings.twilio)
        async with (
            httpx.AsyncClient(timeout=5.0) as http,
            # Redirects are not followed: a receiver could send the request on to a private
            # address.
            httpx.AsyncClient(
                timeout=settings.webhooks.timeout_seconds, follow_redirects=False
            ) as webhook_http,
        ):
            keys = SigningKeys(
                http,
                supabase.jwks_url,
                cache_seconds=supabase.jwks_cache_seconds,
                min_refresh_seconds=supabase.jwks_min_refresh_seconds,
            )
            # Fetched now, so the first request does not wait for them; the app does not
            # wait either (a failure is logged, and requests fetch them again).
            prefetch = asyncio.create_task(keys.prefetch(), name="jwks-prefetch")
            changes = ChangeFeed(settings.database.database_url.get_secret_value())
            feed = FeedHub(NovedadesRepository(core.pool), changes)
            webhooks = WebhooksRepository(core.pool)
            eraser = Eraser(
                BorradosRepository(core.pool),
                openai_client,
                twilio,
                first_retry_seconds=settings.console.erasure_retry_seconds,
                poll_seconds=settings.console.erasure_poll_seconds,
            )
            deliverer = WebhookDeliverer(
                webhooks,
                changes,
                webhook_http,
                settings.webhooks,
                console_url=settings.app.public_origin,
            )
            app.state.console = ConsoleState(
                tokens=TokenVerifier(supabase, keys),
                staff=AgentesRepository(core.pool),
                service=ConsoleService(
                    core.pool,
                    page_size=settings.console.page_size,
                    max_reply_chars=settings.console.max_reply_chars,
                ),
                feed=feed,
                webhooks=webhooks,
                webhook_settings=settings.webhooks,
                eraser=eraser,
                supabase=supabase,
            )
            listening = asyncio.create_task(changes.run(), name="change-feed")
            erasing = asyncio.create_task(eraser.retries.run(), name="erasure-retries")
            delivering = asyncio.create_task(feed.run(), name="console-feed")
            sending = asyncio.create_task(deliverer.run(), name="webhook-deliverer")
            try:
                yield
            finally:
                prefetch.cancel()
                delivering.cancel()  # ends the open streams
                sending.cancel()  # an attempt under way is sent again once its claim lapses
                erasing.cancel()
                listening.cancel()
                await asyncio.wait([delivering, sending, erasing, listening])
                await close_twilio_client(twilio)
                await openai_client.close()

    app = create_service_app(
        channel="console", settings=settings, router=router, extend_lifespan=lifespan
    )
    app.include_router(page_router)
    return app


__getattr__ = lazy_app(__name__, create_app)
