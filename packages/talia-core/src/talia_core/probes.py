"""Liveness, readiness and metrics endpoints every app serves at its root."""

from __future__ import annotations

import asyncio

import structlog
from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST

from talia_core.db import is_database_ready
from talia_core.deps import Core
from talia_core.errors import DatabaseUnavailable, ServiceUnavailable, ShuttingDown

router = APIRouter(tags=["probes"])
log = structlog.stdlib.get_logger("talia.probes")

# A scrape waits this long for a figure read from the database, at most.
METRICS_REFRESH_SECONDS = 1.0


@router.get("/health")
async def health() -> dict[str, str]:
    """Liveness: the process answers; touches nothing."""
    return {"status": "ok"}


@router.get(
    "/ready",
    responses={
        503: {
            "description": "The database does not answer, a part is not working, or the app"
            " is draining."
        }
    },
)
async def ready(core: Core) -> dict[str, str]:
    """Readiness: 200 only while the database answers, every part works and the app takes
    new work."""
    if core.draining:
        raise ShuttingDown
    if not await is_database_ready(core.pool):
        raise DatabaseUnavailable
    idle = [name for name, working in core.readiness_checks.items() if not working()]
    if idle:
        raise ServiceUnavailable(f"Not working yet: {', '.join(idle)}.", code="not_ready")
    return {"status": "ready"}


@router.get("/metrics", response_class=Response)
async def metrics(core: Core) -> Response:
    """Prometheus text format; figures read from the database are refreshed first."""
    for refresh in core.metrics_refreshers:
        try:
            async with asyncio.timeout(METRICS_REFRESH_SECONDS):
                await refresh()
        except Exception as exc:  # a scrape still answers, with the last figures
            log.warning("metrics_refresh_failed", error=type(exc).__name__)
    return Response(core.metrics.render(), media_type=CONTENT_TYPE_LATEST)
