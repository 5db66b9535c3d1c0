"""FastAPI dependencies over the core state, with `Annotated` aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from psycopg_pool import AsyncConnectionPool

from talia_core.state import CoreState


def get_core_state(request: Request) -> CoreState:
    """The state the core lifespan put on the app."""
    state = getattr(request.app.state, "core", None)
    if not isinstance(state, CoreState):
        raise RuntimeError("the app's lifespan has not run: build it with create_service_app")
    return state


def get_pool(core: Annotated[CoreState, Depends(get_core_state)]) -> AsyncConnectionPool:
    """The app's database pool."""
    return core.pool


Core = Annotated[CoreState, Depends(get_core_state)]
Pool = Annotated[AsyncConnectionPool, Depends(get_pool)]
