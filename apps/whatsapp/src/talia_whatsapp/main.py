"""The WhatsApp app: `uvicorn talia_whatsapp.main:app`."""

from fastapi import FastAPI

from talia_core.app import create_service_app, lazy_app
from talia_core.config import settings_or_exit
from talia_whatsapp.config import Settings
from talia_whatsapp.router import router


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; nothing opens until its lifespan starts."""
    settings = settings or settings_or_exit(Settings)
    return create_service_app(
        channel="whatsapp",
        settings=settings,
        router=router,
    )


__getattr__ = lazy_app(__name__, create_app)
