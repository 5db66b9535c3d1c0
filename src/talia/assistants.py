"""`talia assistants import|export|list`: profiles between files and the `asistentes` table."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import yaml

from talia_core.assistants.profile import ProfileError, parse_profile
from talia_core.db import single_connection_pool
from talia_core.repositories.asistentes import AsistentesRepository


@asynccontextmanager
async def _repository(url: str) -> AsyncIterator[AsistentesRepository]:
    async with single_connection_pool(url) as pool:
        yield AsistentesRepository(pool)


def read_profile_file(path: Path) -> dict[str, Any]:
    """A profile file's mapping (YAML, or JSON by its `.json` suffix)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ProfileError(f"{path}: cannot be read ({exc.strerror})") from None
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise ProfileError(
            f"{path}: not valid {'JSON' if path.suffix == '.json' else 'YAML'}: {exc}"
        ) from None
    if not isinstance(data, dict):
        raise ProfileError(f"{path}: a profile is a mapping of keys to values")
    return data


async def import_profile(url: str, path: Path) -> str:
    """Validate a profile file and store it; returns a line saying what happened."""
    profile = parse_profile(read_profile_file(path), source=str(path))
    async with _repository(url) as repository:
        created = await repository.save(profile.key, profile.model_dump(mode="json"))
    return f"{'imported' if created else 'updated'} assistant '{profile.key}'"


async def export_profile(url: str, key: str) -> str | None:
    """The stored profile as YAML, or None when there is none."""
    async with _repository(url) as repository:
        row = await repository.get(key)
    if row is None:
        return None
    return yaml.safe_dump(row.perfil, allow_unicode=True, sort_keys=False)


async def list_profiles(url: str) -> list[str]:
    """One line per stored profile: key, model, realtime model, last update."""
    async with _repository(url) as repository:
        rows = await repository.list()
    return [
        f"{row.clave}\t{row.perfil.get('model')}\t{row.perfil.get('realtime_model')}"
        f"\t{row.updated_at:%Y-%m-%d %H:%M}"
        for row in rows
    ]
