"""The app factory every channel uses: probes, errors, request context, metrics, pool lifespan."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import structlog
from fastapi import APIRouter, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from talia_core.config import ServiceSettings
from talia_core.db import create_pool
from talia_core.exception_handlers import install_exception_handlers
from talia_core.logging import configure_logging
from talia_core.metrics import HttpMetrics
from talia_core.middleware import RequestContextMiddleware
from talia_core.probes import router as probes_router
from talia_core.size_limits import BodyLimitMiddleware
from talia_core.state import CoreState
from talia_core.tracing import configure_tracing, fastapi_telemetry

log = structlog.stdlib.get_logger("talia.app")
FLUSH_MILLISECONDS = 5000


LifespanExtension = Callable[[FastAPI, CoreState], AbstractAsyncContextManager[None]]


def create_service_app(
    *,
    channel: str,
    settings: ServiceSettings,
    router: APIRouter,
    cors_origins: Sequence[str] = (),
    extend_lifespan: LifespanExtension | None = None,
) -> FastAPI:
    """Build one channel app; nothing is opened until its lifespan starts."""
    configure_logging(settings.logging)
    tracing = configure_tracing(settings.app, service=f"talia-{channel}")
    metrics = HttpMetrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = create_pool(settings.database, name=f"talia-{channel}")
        # Not waiting: the app starts even while the database is down, and /ready says so.
        await pool.open(wait=False)
        state = CoreState(channel=channel, settings=settings, pool=pool, metrics=metrics)
        app.state.core = state
        log.info("app_started", channel=channel)
        try:
            if extend_lifespan is None:
                yield
            else:
                async with extend_lifespan(app, state):
                    yield
        finally:
            await pool.close(timeout=settings.app.shutdown_grace_seconds)
            if tracing is not None:
                # The last requests' spans, before the process ends.
                await asyncio.to_thread(tracing.force_flush, FLUSH_MILLISECONDS)
            log.info("app_stopped", channel=channel)

    prefix = router.prefix
    docs = settings.app.api_docs
    app = FastAPI(
        title=f"TalIA {channel}",
        lifespan=lifespan,
        docs_url=f"{prefix}/docs" if docs else None,
        redoc_url=None,
        openapi_url=f"{prefix}/openapi.json" if docs else None,
        telemetry=fastapi_telemetry(tracing),
    )
    install_exception_handlers(app)
    # Inside CORS, so a browser can read the 413; inside the request context, so it is logged.
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.app.max_body_bytes)
    if cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(cors_origins),
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
            expose_headers=["X-Request-ID", "Retry-After"],
            max_age=600,
        )
    app.add_middleware(
        RequestContextMiddleware, channel=channel, metrics=metrics, traced=tracing is not None
    )
    if settings.app.trusted_proxies:
        # Outermost: rate limits and logs see the client the trusted proxy saw (the nearest
        # untrusted address in X-Forwarded-For, read from the right).
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=list(settings.app.trusted_proxies))
    # Routes are tried in order: the channel's webhooks, the hot path, come before the probes.
    app.include_router(router)
    app.include_router(probes_router)
    return app


def lazy_app(module_name: str, factory: Callable[[], FastAPI]) -> Callable[[str], FastAPI]:
    """A module `__getattr__` that builds `app` on first access (uvicorn's `module:app`).

    Importing the module for its `create_app` then reads no environment and opens nothing.
    """
    import sys

    def module_getattr(name: str) -> FastAPI:
        if name != "app":
            raise AttributeError(f"module {module_name!r} has no attribute {name!r}")
        app = factory()
        vars(sys.modules[module_name])["app"] = app  # later lookups skip __getattr__
        return app

    return module_getattr
