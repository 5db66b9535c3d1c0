"""Two scratch databases: one built by the migrations, one by the schema files."""

from __future__ import annotations

import secrets
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from procrastinate.schema import SchemaManager
from psycopg import sql
from psycopg.conninfo import make_conninfo

from talia.schema.catalog import Catalog, read_catalog
from talia_core.migrations import migrate, prepare_like_supabase
from talia_testkit.postgres import EmbeddedPostgres


class SchemaError(Exception):
    """A schema file failed to apply; the message names it."""


def schema_files(directory: Path) -> list[Path]:
    """The schema files in the order they apply: by name, as the Supabase CLI does."""
    return sorted(directory.glob("*.sql"))


@dataclass(frozen=True)
class Scratch:
    """A throwaway PostgreSQL server, and the databases made on it."""

    url: str

    def database(self, purpose: str) -> str:
        """Create a new database (named after `purpose`); its URL."""
        name = f"{purpose}_{secrets.token_hex(4)}"
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
        return make_conninfo(self.url, dbname=name)


@contextmanager
def scratch_server() -> Iterator[Scratch]:
    """An embedded PostgreSQL in a temporary directory, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="talia-schema-") as tmp:
        server = EmbeddedPostgres.start(Path(tmp) / "data", fast=True)
        try:
            yield Scratch(server.url)
        finally:
            server.stop()


def library_schemas() -> dict[str, str]:
    """Schemas that libraries own and ship, applied before the files, by name.

    The job queue's tables are procrastinate's: the schema files add only TalIA's rights to
    them, and an upgrade that changes them shows up as a difference to migrate.
    """
    return {"procrastinate": SchemaManager.get_schema()}


def apply_schema_files(url: str, directory: Path) -> None:
    """Build the database the libraries and schema files declare, in one transaction."""
    prepare_like_supabase(url)
    with psycopg.connect(url, prepare_threshold=None) as conn:
        for library, schema in library_schemas().items():
            try:
                conn.execute(schema.encode())
            except psycopg.Error as exc:
                raise SchemaError(f"{library}'s own schema: {exc}") from exc
        # As pg_dump does: a function may name a table a later file creates.
        conn.execute("set check_function_bodies = off")
        for path in schema_files(directory):
            try:
                conn.execute(path.read_text(encoding="utf-8").encode())
            except psycopg.Error as exc:
                raise SchemaError(f"{path.name}: {exc}") from exc


@dataclass(frozen=True)
class Built:
    """The two catalogs, and the URL of the database the migrations built."""

    current: Catalog
    wanted: Catalog
    migrated_url: str


def build_both(scratch: Scratch, migrations: Path, schemas: Path) -> Built:
    """Build a database from each source and read both catalogs."""
    migrated = scratch.database("from_migrations")
    migrate(migrated, migrations)
    declared = scratch.database("from_schemas")
    apply_schema_files(declared, schemas)
    return Built(_catalog(migrated), _catalog(declared), migrated)


def _catalog(url: str) -> Catalog:
    conn: psycopg.Connection[Any]
    with psycopg.connect(url, autocommit=True) as conn:
        return read_catalog(conn)
