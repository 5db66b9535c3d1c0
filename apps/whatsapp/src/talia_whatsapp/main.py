"""The WhatsApp app: `uvicorn talia_whatsapp.main:app`."""

import asyncio
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI

from talia_core.app import create_service_app, lazy_app
from talia_core.config import settings_or_exit
from talia_core.repositories.contactos import ContactosRepository
from talia_core.repositories.eventos import EventosRepository
from talia_core.repositories.mensajes import MensajesRepository
from talia_core.security import TwilioSignatureVerifier
from talia_core.state import CoreState
from talia_whatsapp.config import Settings
from talia_whatsapp.deps import WhatsAppState
from talia_whatsapp.inbound import InboundWriter
from talia_whatsapp.metrics import ReplyMetrics
from talia_whatsapp.queue import queue_state
from talia_whatsapp.router import router
from talia_whatsapp.runtime import open_replies

log = structlog.stdlib.get_logger("talia.whatsapp")


def _stop_if_died(worker: asyncio.Task[None]) -> None:
    """A worker that failed for good takes the process down, so the orchestrator restarts it
    (a web app that takes messages no one answers would look healthy)."""
    if worker.cancelled() or worker.exception() is None:
        return
    log.error("reply_worker_died", error=type(worker.exception()).__name__)
    signal.raise_signal(signal.SIGTERM)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; nothing opens until its lifespan starts."""
    settings = settings or settings_or_exit(Settings)
    if settings.app.public_origin is None:
        # Twilio signs the public address: without it no webhook can be verified.
        raise SystemExit(
            "talia: configuration error: TALIA_PUBLIC_BASE_URL is required by the whatsapp app"
        )

    @asynccontextmanager
    async def lifespan(app: FastAPI, core: CoreState) -> AsyncIterator[None]:
        app.state.twilio_signature_verifier = TwilioSignatureVerifier(
            auth_token=settings.twilio.auth_token, public_base_url=settings.app.public_origin or ""
        )
        inbound = InboundWriter(core.pool)
        metrics = ReplyMetrics(core.metrics.registry)
        async with open_replies(settings, core.pool, metrics) as replies:
            app.state.whatsapp = WhatsAppState(
                settings=settings,
                inbound=inbound,
                engine=replies.engine,
                contactos=ContactosRepository(core.pool),
                mensajes=MensajesRepository(core.pool),
                eventos=EventosRepository(core.pool),
                metrics=metrics,
            )
            worker = None
            if settings.whatsapp.run_worker:
                worker = asyncio.create_task(replies.worker.run(), name="reply-worker")
                worker.add_done_callback(_stop_if_died)
                core.readiness_checks["reply worker"] = lambda: replies.worker.working

            async def refresh_metrics() -> None:
                if worker is not None:
                    metrics.worker_working.set(1 if replies.worker.working else 0)
                metrics.queue(await queue_state(core.pool))

            core.metrics_refreshers.append(refresh_metrics)
            try:
                yield
            finally:
                await inbound.wait_idle()  # what a webhook handed over is written before closing
                if worker is not None:
                    worker.cancel()  # running jobs finish within the grace period
                    await asyncio.wait([worker])  # a failure was logged when it happened

    return create_service_app(
        channel="whatsapp", settings=settings, router=router, extend_lifespan=lifespan
    )


__getattr__ = lazy_app(__name__, create_app)
