"""FastAPI dependencies over the core state, with `Annotated` aliases.

They are `async def` though they never wait: FastAPI runs a plain `def` dependency in a
worker thread, a hand-off that costs more than the lookup on every request.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

from fastapi import Depends, Request
from psycopg_pool import AsyncConnectionPool
from starlette.requests import HTTPConnection

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


AppState = TypeVar("AppState")


def app_state(name: str, kind: type[AppState]) -> Callable[[HTTPConnection], Awaitable[AppState]]:
    """A dependency (for requests and sockets) returning what an app's lifespan put on
    `app.state.<name>`, typed as `kind`."""

    async def get_state(connection: HTTPConnection) -> AppState:
        state = getattr(connection.app.state, name, None)
        if not isinstance(state, kind):
            raise RuntimeError(f"the {name} lifespan has not run")
        return state

    return get_state


Core = Annotated[CoreState, Depends(get_core_state)]
Pool = Annotated[AsyncConnectionPool, Depends(get_pool)]
