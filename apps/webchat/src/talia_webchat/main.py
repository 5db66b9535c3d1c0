"""The Web chat app: `uvicorn talia_webchat.main:app`."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from prometheus_client import Gauge

from talia_core.ai.engine import TextEngine
from talia_core.ai.metrics import ModelMetrics
from talia_core.app import create_service_app, lazy_app
from talia_core.assistants.registry import AssistantRegistry
from talia_core.changes import ChangeFeed
from talia_core.clients.openai import create_openai_client
from talia_core.config import settings_or_exit
from talia_core.state import CoreState
from talia_webchat.config import Settings
from talia_webchat.deps import Limits, WebchatState
from talia_webchat.router import router
from talia_webchat.service import WebchatService
from talia_webchat.tokens import SessionTokens


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; nothing opens until its lifespan starts."""
    settings = settings or settings_or_exit(Settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI, core: CoreState) -> AsyncIterator[None]:
        client = create_openai_client(settings.openai)
        engine = TextEngine(
            client=client,
            registry=AssistantRegistry(core.pool),
            pool=core.pool,
            metrics=ModelMetrics(core.metrics.registry),
        )
        app.state.webchat = state = WebchatState(
            settings=settings,
            service=WebchatService(
                pool=core.pool,
                engine=engine,
                assistant=settings.app.assistant,
                max_text_chars=settings.webchat.max_text_chars,
            ),
            tokens=SessionTokens(
                settings.webchat.session_secret, ttl_seconds=settings.webchat.session_ttl_seconds
            ),
            limits=Limits.from_settings(settings),
            changes=ChangeFeed(settings.database.database_url.get_secret_value()),
        )
        listening = asyncio.create_task(state.changes.run(), name="change-feed")
        Gauge(
            "talia_webchat_open_sockets",
            "Visitor WebSockets open in this process.",
            registry=core.metrics.registry,
        ).set_function(lambda: sum(state.open_sockets.values()))
        try:
            yield
        finally:
            listening.cancel()
            await state.live.drain(settings.app.shutdown_grace_seconds)
            await client.close()

    return create_service_app(
        channel="webchat",
        settings=settings,
        router=router,
        cors_origins=settings.webchat.allowed_origins,
        extend_lifespan=lifespan,
    )


__getattr__ = lazy_app(__name__, create_app)
