"""`talia db check` and `talia db diff`: `supabase/schemas/` against `supabase/migrations/`.

The schema files say what the database is today, one file per aggregate; the migrations are
how deployed databases got there. Both are built in a throwaway PostgreSQL and their catalogs
compared object by object (see `catalog`). The diff engine is our own, small one: migra is
no longer maintained, and the Supabase CLI's needs Docker.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from talia.schema.build import Scratch, build_both, scratch_server
from talia.schema.catalog import read_catalog
from talia.schema.compare import CannotWrite, Difference, differences, migration_sql

__all__ = ["CannotWrite", "Difference", "check", "write_migration"]

_NAME = re.compile(r"^[a-z0-9][a-z0-9_]*$")


@contextmanager
def _server(scratch: Scratch | None) -> Iterator[Scratch]:
    if scratch is not None:
        yield scratch
        return
    with scratch_server() as started:
        yield started


def check(migrations: Path, schemas: Path, *, scratch: Scratch | None = None) -> list[Difference]:
    """What differs between the database the schema files build and the migrations build.

    Built on `scratch` when given, else on a throwaway embedded PostgreSQL.
    """
    with _server(scratch) as server:
        built = build_both(server, migrations, schemas)
    return differences(built.current, built.wanted)


def write_migration(
    name: str,
    migrations: Path,
    schemas: Path,
    *,
    now: datetime | None = None,
    scratch: Scratch | None = None,
) -> Path | None:
    """Write the migration that brings the migrations up to the schema files; None when
    they already agree.

    The migration is tried first, after the others, on a scratch database: it is written
    only if the result is exactly what the schema files declare.
    """
    if not _NAME.match(name):
        raise CannotWrite(f"{name!r}: a migration name is lower-case letters, digits and _")
    with _server(scratch) as server:
        built = build_both(server, migrations, schemas)
        statements = migration_sql(built.current, built.wanted)
        if not statements:
            return None
        conn: psycopg.Connection[Any]
        with psycopg.connect(built.migrated_url, autocommit=True) as conn:
            try:
                conn.execute(statements.encode())
            except psycopg.Error as exc:
                raise CannotWrite(f"the written statements fail ({exc})") from exc
            left = differences(read_catalog(conn), built.wanted)
    if left:
        raise CannotWrite(", ".join(str(difference) for difference in left))
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%d%H%M%S")
    path = migrations / f"{stamp}_{name}.sql"
    path.write_text(
        f"-- Written by `talia db diff {name}` from supabase/schemas/.\n\n{statements}",
        encoding="utf-8",
    )
    return path
