"""What both the web app and the standalone worker open: clients, the reply service, jobs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta

import procrastinate
from psycopg_pool import AsyncConnectionPool

from talia_core.ai.engine import TextEngine
from talia_core.assistants.registry import AssistantRegistry
from talia_core.clients.openai import create_openai_client
from talia_core.clients.twilio import close_twilio_client, create_twilio_client
from talia_core.repositories.contactos import ContactosRepository
from talia_core.repositories.conversaciones import ConversacionesRepository
from talia_core.repositories.eventos import EventosRepository
from talia_core.repositories.mensajes import MensajesRepository
from talia_whatsapp.config import Settings
from talia_whatsapp.jobs import ReplyWorker, create_job_app
from talia_whatsapp.media import MediaFetcher
from talia_whatsapp.metrics import ReplyMetrics
from talia_whatsapp.replies import ReplyService
from talia_whatsapp.sender import WhatsAppSender


@dataclass(frozen=True)
class Replies:
    """The open reply machinery: the text engine, the service, its job app and a worker."""

    engine: TextEngine
    service: ReplyService
    jobs: procrastinate.App
    worker: ReplyWorker


@asynccontextmanager
async def open_replies(
    settings: Settings, pool: AsyncConnectionPool, metrics: ReplyMetrics
) -> AsyncIterator[Replies]:
    """Open the model and Twilio clients and the job app on `pool`'s database; close after."""
    openai_client = create_openai_client(settings.openai)
    twilio = create_twilio_client(settings.twilio)
    fetcher = MediaFetcher(
        account_sid=settings.twilio.account_sid,
        auth_token=settings.twilio.auth_token,
        max_bytes=settings.whatsapp.max_media_bytes,
    )
    origin = settings.app.public_origin
    registry = AssistantRegistry(pool)
    conversaciones = ConversacionesRepository(pool)
    engine = TextEngine(client=openai_client, registry=registry, pool=pool, metrics=metrics.model)
    service = ReplyService(
        engine=engine,
        sender=WhatsAppSender(
            twilio,
            from_=settings.twilio.whatsapp_from,
            messaging_service_sid=settings.twilio.messaging_service_sid,
            status_callback=f"{origin}/api/whatsapp/status" if origin else None,
        ),
        fetcher=fetcher,
        openai_client=openai_client,
        registry=registry,
        conversaciones=conversaciones,
        contactos=ContactosRepository(pool),
        mensajes=MensajesRepository(pool),
        eventos=EventosRepository(pool),
        debounce=timedelta(milliseconds=settings.whatsapp.debounce_ms),
        metrics=metrics,
    )
    jobs = create_job_app(settings, service.answer, metrics)
    try:
        async with jobs.open_async():
            yield Replies(engine, service, jobs, ReplyWorker(jobs, settings))
    finally:
        await fetcher.close()
        await close_twilio_client(twilio)
        await openai_client.close()
