"""The registry reads profiles from the database and picks up edits without a restart."""

from typing import Any

import pytest
from psycopg_pool import AsyncConnectionPool

from talia_core.assistants.registry import AssistantRegistry, ProfileNotFound
from talia_core.repositories.asistentes import AsistentesRepository
from talia_testkit.profiles import throwaway_profile


class ManualClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _profile(instructions: str) -> dict[str, Any]:
    return throwaway_profile(instructions=instructions)


async def test_an_edited_profile_is_served_once_the_cache_expires(
    db_pool: AsyncConnectionPool,
) -> None:
    repository = AsistentesRepository(db_pool)
    clock = ManualClock()
    registry = AssistantRegistry(db_pool, ttl_seconds=5, clock=clock)
    await repository.save("tienda", _profile("first version"))
    before = await registry.get("tienda")
    await repository.save("tienda", _profile("second version"))

    cached = await registry.get("tienda")
    clock.now += 6
    refreshed = await registry.get("tienda")

    assert before.instructions == cached.instructions == "first version"
    assert refreshed.instructions == "second version"


async def test_a_missing_profile_is_a_clear_error(db_pool: AsyncConnectionPool) -> None:
    registry = AssistantRegistry(db_pool)

    with pytest.raises(ProfileNotFound, match="nadie"):
        await registry.get("nadie")
