"""The Web chat app: `uvicorn talia_webchat.main:app`."""

from fastapi import FastAPI

from talia_core.app import create_service_app, lazy_app
from talia_core.config import settings_or_exit
from talia_webchat.config import Settings
from talia_webchat.router import router


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; nothing opens until its lifespan starts."""
    settings = settings or settings_or_exit(Settings)
    return create_service_app(
        channel="webchat",
        settings=settings,
        router=router,
        cors_origins=settings.webchat.allowed_origins,
    )


__getattr__ = lazy_app(__name__, create_app)
