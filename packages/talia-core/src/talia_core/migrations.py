"""Apply `supabase/migrations/*.sql` in file-name order, recorded as the Supabase CLI does."""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Final

import psycopg

# The Supabase CLI reads a migration's version as the digits before the first underscore.
_MIGRATION_FILE: Final = re.compile(r"^(?P<version>\d+)_(?P<name>.+)\.sql$")
_LOCK_KEY: Final = "talia.migrations"

# The ledger as the Supabase CLI creates it.
_LEDGER_DDL: Final = """
create schema if not exists supabase_migrations;
create table if not exists supabase_migrations.schema_migrations (
  version text not null primary key
);
alter table supabase_migrations.schema_migrations add column if not exists statements text[];
alter table supabase_migrations.schema_migrations add column if not exists name text;
"""
# Only a Supabase project has these; their presence means: leave roles and `auth` alone.
_IS_SUPABASE: Final = """
select exists (select 1 from pg_roles where rolname = 'supabase_admin')
    or to_regclass('auth.users') is not null
"""


class MigrationError(Exception):
    """A migration file is misnamed or failed to apply; the message names it."""


@dataclass(frozen=True)
class Migration:
    """One file of `supabase/migrations`."""

    version: str
    name: str
    path: Path

    def read_sql(self) -> str:
        return self.path.read_text(encoding="utf-8")


def find_migrations(directory: Path) -> list[Migration]:
    """The migration files in the order they apply; misnamed `.sql` files are an error."""
    migrations: list[Migration] = []
    for path in sorted(directory.glob("*.sql")):
        match = _MIGRATION_FILE.match(path.name)
        if match is None:
            raise MigrationError(f"{path.name}: name must be <digits>_<name>.sql")
        migrations.append(Migration(match["version"], match["name"], path))
    versions = [m.version for m in migrations]
    duplicates = sorted({v for v in versions if versions.count(v) > 1})
    if duplicates:
        raise MigrationError(f"two migration files share version {', '.join(duplicates)}")
    return migrations


def migrate(conninfo: str, directory: Path) -> list[Migration]:
    """Prepare a plain PostgreSQL like Supabase, then apply every pending migration."""
    prepare_like_supabase(conninfo)
    return apply_migrations(conninfo, directory)


def prepare_like_supabase(conninfo: str) -> None:
    """On a plain PostgreSQL, create the roles and `auth` helpers Supabase provides."""
    with psycopg.connect(conninfo, autocommit=True, prepare_threshold=None) as conn:
        conn.execute("select pg_advisory_lock(hashtext(%s))", (_LOCK_KEY,))
        try:
            row = conn.execute(_IS_SUPABASE).fetchone()
            if not (row and row[0]):
                bootstrap = resources.files("talia_core").joinpath("sql/local_supabase.sql")
                conn.execute(bootstrap.read_text(encoding="utf-8").encode())
        finally:
            conn.execute("select pg_advisory_unlock(hashtext(%s))", (_LOCK_KEY,))


def apply_migrations(conninfo: str, directory: Path) -> list[Migration]:
    """Apply every pending migration, each in its own transaction; return those applied.

    A session advisory lock serialises concurrent runners (two apps starting at once).
    """
    pending: list[Migration] = []
    migrations = find_migrations(directory)
    with psycopg.connect(conninfo, autocommit=True, prepare_threshold=None) as conn:
        conn.execute("select pg_advisory_lock(hashtext(%s))", (_LOCK_KEY,))
        try:
            conn.execute(_LEDGER_DDL)
            rows = conn.execute(
                "select version, statements from supabase_migrations.schema_migrations"
            )
            applied: dict[str, list[str] | None] = dict(rows.fetchall())
            _refuse_edited(migrations, applied)
            pending = [m for m in migrations if m.version not in applied]
            for migration in pending:
                _apply_one(conn, migration)
        finally:
            conn.execute("select pg_advisory_unlock(hashtext(%s))", (_LOCK_KEY,))
    return pending


def _refuse_edited(migrations: list[Migration], applied: dict[str, list[str] | None]) -> None:
    """Raise if a migration file differs from what the ledger says was applied.

    Applied migrations are never edited: the database would not match the file (add a new
    migration instead). Compared without comments, whitespace and semicolons, so the
    statements the Supabase CLI records (split, trimmed) compare equal to their file.
    """
    for migration in migrations:
        statements = applied.get(migration.version)
        if statements is None:
            continue  # pending, or recorded by a runner that kept no statements
        if _substance("".join(statements)) != _substance(migration.read_sql()):
            raise MigrationError(
                f"{migration.path.name} has changed since it was applied to this database; "
                "applied migrations are never edited: restore it and add a new migration"
            )


_NOT_SUBSTANCE: Final = re.compile(r"--[^\n]*|/\*.*?\*/|[\s;]+", re.DOTALL)


def _substance(sql_text: str) -> str:
    return _NOT_SUBSTANCE.sub("", sql_text)


def _apply_one(conn: psycopg.Connection[tuple[object, ...]], migration: Migration) -> None:
    sql_text = migration.read_sql()
    try:
        with conn.transaction():
            conn.execute(sql_text.encode())  # no parameters: sent as one simple query
            conn.execute(
                "insert into supabase_migrations.schema_migrations (version, name, statements)"
                " values (%s, %s, %s)",
                (migration.version, migration.name, [sql_text]),
            )
    except psycopg.Error as exc:
        raise MigrationError(f"{migration.path.name}: {exc}") from exc
