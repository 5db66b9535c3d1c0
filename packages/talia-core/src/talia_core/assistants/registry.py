"""Profiles read from `asistentes` with a short cache, so edits apply without a restart."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from psycopg_pool import AsyncConnectionPool

from talia_core.assistants.profile import AssistantProfile, parse_profile
from talia_core.errors import ServiceUnavailable
from talia_core.repositories.asistentes import AsistentesRepository


class ProfileNotFound(ServiceUnavailable):
    code = "assistant_not_configured"
    message = "The assistant profile is not configured."


@dataclass(frozen=True)
class _Cached:
    profile: AssistantProfile
    expires_at: float


class AssistantRegistry:
    """Hands out profiles by key; a profile is re-read once its cache entry is older than ttl."""

    def __init__(
        self,
        pool: AsyncConnectionPool,
        *,
        ttl_seconds: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._repository = AsistentesRepository(pool)
        self._ttl = ttl_seconds
        self._clock = clock
        self._cache: dict[str, _Cached] = {}

    async def get(self, key: str) -> AssistantProfile:
        """The profile `key`; `ProfileNotFound` when no such row exists."""
        now = self._clock()
        cached = self._cache.get(key)
        if cached is not None and cached.expires_at > now:
            return cached.profile
        row = await self._repository.get(key)
        if row is None:
            self._cache.pop(key, None)
            raise ProfileNotFound(
                f"No assistant profile '{key}': import one with talia assistants import."
            )
        profile = parse_profile(row.perfil, source=f"asistentes[{key}]")
        self._cache[key] = _Cached(profile, now + self._ttl)
        return profile
