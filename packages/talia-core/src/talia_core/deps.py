"""FastAPI dependencies over the core state, with `Annotated` aliases.

They are `async def` though they never wait: FastAPI runs a plain `def` dependency in a
worker thread, a hand-off that costs more than the lookup on every request.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from psycopg_pool import AsyncConnectionPool

from talia_core.state import CoreState


async def get_core_state(request: Request) -> CoreState:
    """The state the core lifespan put on the app."""
    state = getattr(request.app.state, "core", None)
    if not isinstance(state, CoreState):
        raise RuntimeError("the app's lifespan has not run: build it with create_service_app")
    return state


async def get_pool(core: Annotated[CoreState, Depends(get_core_state)]) -> AsyncConnectionPool:
    """The app's database pool."""
    return core.pool


Core = Annotated[CoreState, Depends(get_core_state)]
Pool = Annotated[AsyncConnectionPool, Depends(get_pool)]
