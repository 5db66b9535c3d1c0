"""The Voice app: `uvicorn talia_voice.main:app`."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from talia_core.ai.tools import ToolRunner
from talia_core.app import create_service_app, lazy_app
from talia_core.assistants.registry import AssistantRegistry
from talia_core.clients.openai import create_openai_client
from talia_core.clients.twilio import close_twilio_client, create_twilio_client
from talia_core.config import settings_or_exit
from talia_core.repositories.contactos import ContactosRepository
from talia_core.repositories.conversaciones import ConversacionesRepository
from talia_core.repositories.eventos import EventosRepository
from talia_core.repositories.llamadas import LlamadasRepository
from talia_core.security import TwilioSignatureVerifier
from talia_core.state import CoreState
from talia_voice.call_control import CallControl
from talia_voice.config import Settings
from talia_voice.drain import CallDrain
from talia_voice.router import router
from talia_voice.state import VoiceState


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; nothing opens until its lifespan starts."""
    settings = settings or settings_or_exit(Settings)
    if settings.app.public_origin is None:
        # Twilio signs, and streams to, the public address: without it no call can work.
        raise SystemExit(
            "talia: configuration error: TALIA_PUBLIC_BASE_URL is required by the voice app"
        )

    @asynccontextmanager
    async def lifespan(app: FastAPI, core: CoreState) -> AsyncIterator[None]:
        client = create_openai_client(settings.openai)
        twilio = create_twilio_client(settings.twilio)
        verifier = TwilioSignatureVerifier(
            auth_token=settings.twilio.auth_token, public_base_url=settings.app.public_origin or ""
        )
        conversaciones = ConversacionesRepository(core.pool)
        app.state.twilio_signature_verifier = verifier
        state = VoiceState(
            settings=settings,
            openai=client,
            registry=AssistantRegistry(core.pool),
            calls=LlamadasRepository(core.pool),
            conversaciones=conversaciones,
            eventos=EventosRepository(core.pool),
            tool_runner=ToolRunner(ContactosRepository(core.pool), conversaciones),
            control=CallControl(twilio),
            verifier=verifier,
            core=core,
        )
        app.state.voice = state
        drain = CallDrain(state)
        drain.install()
        try:
            yield
        finally:
            drain.uninstall()
            await close_twilio_client(twilio)
            await client.close()

    return create_service_app(
        channel="voice", settings=settings, router=router, extend_lifespan=lifespan
    )


__getattr__ = lazy_app(__name__, create_app)
