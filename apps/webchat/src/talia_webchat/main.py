"""The Web chat app: `uvicorn talia_webchat.main:app`."""

from fastapi import FastAPI

from talia_core.app import create_service_app
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


def __getattr__(name: str) -> FastAPI:
    # `app` is built on first access (uvicorn's `talia_webchat.main:app`), so importing this
    # module for `create_app` reads no environment.
    if name == "app":
        app = create_app()
        globals()["app"] = app
        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
