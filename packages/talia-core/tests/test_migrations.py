"""`talia migrate`: applies in order, records like the Supabase CLI, twice is a no-op."""

import re
from pathlib import Path

import psycopg
import pytest

from talia_core.migrations import MigrationError, find_migrations, migrate
from talia_testkit.database import MIGRATIONS_DIR


def _ledger(url: str) -> list[tuple[str, str]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "select version, name from supabase_migrations.schema_migrations order by version"
        ).fetchall()
    return [(str(version), str(name)) for version, name in rows]


def test_migrating_again_changes_nothing(database_url: str) -> None:
    before = _ledger(database_url)

    applied = migrate(database_url, MIGRATIONS_DIR)

    assert applied == []
    assert _ledger(database_url) == before


def test_ledger_rows_match_the_migration_files(database_url: str) -> None:
    files = [(m.version, m.name) for m in find_migrations(MIGRATIONS_DIR)]

    assert sorted(_ledger(database_url)) == sorted(files)
    assert ("20251023", "160500_rls_policies") in files


def test_rls_migration_keeps_its_seed_name_and_order() -> None:
    names = [m.path.name for m in find_migrations(MIGRATIONS_DIR)]

    rls = names.index("20251023_160500_rls_policies.sql")
    assert names[0].endswith("_schema.sql")
    assert rls == 1


def test_a_failing_migration_is_rolled_back_and_named(database_url: str, tmp_path: Path) -> None:
    (tmp_path / "20990101000000_good.sql").write_text(
        "create table public.migration_probe (id int);"
    )
    (tmp_path / "20990102000000_bad.sql").write_text(
        "create table public.half_done (id int); select * from missing_table;"
    )

    with pytest.raises(MigrationError, match=re.escape("20990102000000_bad.sql")):
        migrate(database_url, tmp_path)

    with psycopg.connect(database_url, autocommit=True) as conn:
        tables = conn.execute(
            "select to_regclass('public.migration_probe'), to_regclass('public.half_done')"
        ).fetchone()
        versions = conn.execute(
            "select version from supabase_migrations.schema_migrations where version like '2099%'"
        ).fetchall()
        conn.execute("drop table public.migration_probe")
        conn.execute("delete from supabase_migrations.schema_migrations where version like '2099%'")
    assert tables == ("migration_probe", None)
    assert versions == [("20990101000000",)]


def test_misnamed_migration_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "schema.sql").write_text("select 1;")

    with pytest.raises(MigrationError, match=re.escape("schema.sql")):
        find_migrations(tmp_path)


def test_an_applied_migration_edited_since_is_refused_by_name(
    database_url: str, tmp_path: Path
) -> None:
    try:
        _edit_after_applying(database_url, tmp_path)
    finally:  # the session's database is shared: leave no table and no ledger row behind
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute("drop table if exists public.probe_a, public.probe_b, public.probe_c")
            conn.execute(
                "delete from supabase_migrations.schema_migrations where version like '2099%'"
            )


def _edit_after_applying(database_url: str, tmp_path: Path) -> None:
    migration = tmp_path / "20990101000000_probe.sql"
    migration.write_text(
        "-- Two tables.\n"
        "create table public.probe_a (id int);\ncreate table public.probe_b (id int);\n"
    )
    migrate(database_url, tmp_path)
    # As the Supabase CLI records it: split into trimmed statements.
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "update supabase_migrations.schema_migrations set statements = %s"
            " where version = '20990101000000'",
            (["create table public.probe_a (id int)", "create table public.probe_b (id int)"],),
        )
    migration.write_text(
        "-- Two tables, reworded.\ncreate table public.probe_a (id int);\n\n"
        "create table public.probe_b (id int);\n"
    )
    assert migrate(database_url, tmp_path) == []  # comments and layout are not substance

    migration.write_text(
        "create table public.probe_a (id bigint);\ncreate table public.probe_b (id int);\n"
    )
    (tmp_path / "20990102000000_later.sql").write_text("create table public.probe_c (id int);")

    with pytest.raises(MigrationError) as refused:
        migrate(database_url, tmp_path)

    assert str(refused.value) == (
        "20990101000000_probe.sql has changed since it was applied to this database; "
        "applied migrations are never edited: restore it and add a new migration"
    )
    with psycopg.connect(database_url) as conn:
        later = conn.execute("select to_regclass('public.probe_c')").fetchone()
    assert later == (None,)  # nothing after it was applied either
