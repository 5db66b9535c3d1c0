"""The typed state the core lifespan opens and the apps read."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from psycopg_pool import AsyncConnectionPool

from talia_core.config import ServiceSettings
from talia_core.metrics import HttpMetrics


@dataclass
class CoreState:
    """What the core lifespan opened; lives on `app.state.core` while the app runs."""

    channel: str
    settings: ServiceSettings
    pool: AsyncConnectionPool
    metrics: HttpMetrics
    # Set on shutdown while live work drains: /ready answers 503 so no new work arrives.
    draining: bool = False
    # Parts the app cannot work without, beside the database: /ready answers 503 naming
    # each one whose check returns False (e.g. a reply worker waiting for the database).
    readiness_checks: dict[str, Callable[[], bool]] = field(default_factory=dict)
    # Run before each /metrics scrape, to read what lives in the database (a queue's depth).
    metrics_refreshers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
