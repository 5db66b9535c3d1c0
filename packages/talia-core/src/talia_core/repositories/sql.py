"""Run one write-API function through the pool, turning its SQL errors into typed ones."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import psycopg
from psycopg.rows import BaseRowFactory, RowMaker
from psycopg_pool import AsyncConnectionPool

from talia_core.repositories.errors import translate

R = TypeVar("R")
Params = Sequence[Any] | Mapping[str, Any]


def dataclass_row(row_type: type[R]) -> BaseRowFactory[R]:
    """Rows as `row_type` (a dataclass), from the columns it has fields for.

    A column it does not know is left out: a migration may add result columns while
    replicas of the release before it still run (a rolling deploy), and they keep working.
    """
    fields = {field.name for field in dataclasses.fields(row_type)}  # type: ignore[arg-type]

    def factory(cursor: Any) -> RowMaker[R]:
        names = [column.name for column in cursor.description or ()]
        kept = [(index, name) for index, name in enumerate(names) if name in fields]
        make: Callable[..., R] = row_type

        def row(values: Sequence[Any]) -> R:
            return make(**{name: values[index] for index, name in kept})

        return row

    return factory


async def fetch_rows(
    pool: AsyncConnectionPool, query: str, params: Params, row_type: type[R]
) -> list[R]:
    """All rows of `query` as `row_type` instances."""
    try:
        rows = dataclass_row(row_type)
        async with pool.connection() as conn, conn.cursor(row_factory=rows) as cur:
            await cur.execute(query, params)
            return await cur.fetchall()
    except psycopg.Error as exc:
        typed = translate(exc)
        if typed is not None:
            raise typed from exc
        raise


async def fetch_row(pool: AsyncConnectionPool, query: str, params: Params, row_type: type[R]) -> R:
    """The one row `query` returns (the write API always returns one)."""
    rows = await fetch_rows(pool, query, params, row_type)
    if len(rows) != 1:
        raise RuntimeError(f"expected one row, got {len(rows)}")
    return rows[0]


async def fetch_value(pool: AsyncConnectionPool, query: str, params: Params) -> Any:
    """The first column of the one row `query` returns."""
    try:
        async with pool.connection() as conn:
            cursor = await conn.execute(query, params)
            row = await cursor.fetchone()
    except psycopg.Error as exc:
        typed = translate(exc)
        if typed is not None:
            raise typed from exc
        raise
    if row is None:
        raise RuntimeError("expected a row")
    return row[0]
