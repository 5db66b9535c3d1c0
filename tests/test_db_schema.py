"""`talia db check` and `talia db diff`: supabase/schemas/ and supabase/migrations/ agree."""

import re
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from talia.cli import main
from talia.paths import MIGRATIONS_DIR, SCHEMAS_DIR
from talia.schema import CannotWrite, Difference, check, write_migration
from talia.schema.build import SchemaError, Scratch, scratch_server
from talia_core.migrations import migrate


@pytest.fixture(scope="module")
def scratch() -> Iterator[Scratch]:
    with scratch_server() as server:
        yield server


@pytest.fixture
def supabase(tmp_path: Path) -> tuple[Path, Path]:
    """Copies of supabase/migrations/ and supabase/schemas/ to edit."""
    migrations = shutil.copytree(MIGRATIONS_DIR, tmp_path / "migrations")
    schemas = shutil.copytree(SCHEMAS_DIR, tmp_path / "schemas")
    return migrations, schemas


def _append(path: Path, text: str) -> None:
    path.write_text(path.read_text(encoding="utf-8") + text, encoding="utf-8")


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} is not in {path.name}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


COUNT_EVENTS = """
create function public.contar_eventos(p_tipo text) returns bigint
language sql stable set search_path = ''
as $$ select count(*) from public.eventos e where e.tipo = p_tipo $$;

revoke all on function public.contar_eventos(text) from public, anon, authenticated, service_role;
grant execute on function public.contar_eventos(text) to service_role;
"""


def test_the_repository_schema_files_and_migrations_agree(
    capsys: pytest.CaptureFixture[str],
) -> None:
    main(["db", "check"])

    assert capsys.readouterr().out == "supabase/schemas/ and supabase/migrations/ agree\n"


def test_a_function_only_in_the_schema_files_fails_the_check_until_diff_writes_it(
    scratch: Scratch, supabase: tuple[Path, Path]
) -> None:
    migrations, schemas = supabase
    _append(schemas / "40_events.sql", COUNT_EVENTS)

    assert check(migrations, schemas, scratch=scratch) == [
        Difference("function", "public.contar_eventos(text)", "schemas only"),
        Difference("grant", "function public.contar_eventos(text)", "schemas only"),
    ]

    now = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    written = write_migration("count_events", migrations, schemas, now=now, scratch=scratch)

    assert written == migrations / "20300102030405_count_events.sql"
    assert "CREATE OR REPLACE FUNCTION public.contar_eventos(p_tipo text)" in written.read_text()
    assert check(migrations, schemas, scratch=scratch) == []
    # `talia migrate` applies it like any other migration.
    database = scratch.database("applied")
    applied = migrate(database, migrations)
    assert applied[-1].path == written
    with psycopg.connect(database) as conn:
        assert conn.execute("select public.contar_eventos('lead_saved')").fetchone() == (0,)
        granted = conn.execute(
            "select has_function_privilege('anon', 'public.contar_eventos(text)', 'execute'),"
            " has_function_privilege('service_role', 'public.contar_eventos(text)', 'execute')"
        ).fetchone()
    assert granted == (False, True)


def test_a_migration_without_its_schema_edit_fails_the_check(
    scratch: Scratch, supabase: tuple[Path, Path]
) -> None:
    migrations, schemas = supabase
    (migrations / "20990101000000_notes.sql").write_text(
        "create table public.notas (id bigint primary key);\n"
        "alter table public.contactos add column apodo text;\n"
        "create index contactos_apodo_idx on public.contactos (apodo);\n"
    )

    found = check(migrations, schemas, scratch=scratch)

    # A new table is one difference, not one per column, key and grant.
    assert found == [
        Difference("column", "public.contactos.apodo", "migrations only"),
        Difference("table", "public.notas", "migrations only"),
        Difference("index", "public.contactos_apodo_idx", "migrations only"),
    ]


def test_edits_of_every_kind_are_written_and_leave_nothing_to_differ(
    scratch: Scratch, supabase: tuple[Path, Path]
) -> None:
    migrations, schemas = supabase
    contacts, events = schemas / "10_contacts.sql", schemas / "40_events.sql"
    # A column added with a default and an index, a column's default and nullability
    # changed, a policy narrowed, a function's body and another's result changed, a
    # function dropped, a new table with a key into an existing one.
    _append(
        contacts,
        "\nalter table public.contactos add column idioma text default 'es' not null;\n"
        "create index contactos_idioma_idx on public.contactos (idioma);\n",
    )
    _edit(contacts, "  notas text,\n", "  notas text default '' not null,\n")
    _edit(
        schemas / "90_rights.sql",
        "public.contactos\n  for select to authenticated using (",
        "public.contactos\n  for select to authenticated using (not opt_out and ",
    )
    _edit(
        contacts,
        "v_campos := array_remove(array[",
        "v_campos := array_remove(array[\n    case when p_notas = '' then 'vacio' end,",
    )
    text = events.read_text(encoding="utf-8")
    start = text.index("create function public.registrar_evento(")
    end = text.index("$$;", text.index("as $$", start)) + 3
    events.write_text(text[:start] + text[end:], encoding="utf-8")
    _append(
        events,
        "\ncreate table public.etiquetas (\n"
        "  contacto_id uuid not null references public.contactos (contacto_id),\n"
        "  etiqueta text not null,\n"
        "  primary key (contacto_id, etiqueta)\n);\n"
        "alter table public.etiquetas enable row level security;\n",
    )

    # A function whose result type changes is dropped and created again, grants and all.
    _edit(
        schemas / "20_conversations.sql",
        "  p_openai_conversation_id text\n) returns text",
        "  p_openai_conversation_id text\n) returns varchar",
    )

    written = write_migration("several_edits", migrations, schemas, scratch=scratch)

    assert written is not None
    statements = written.read_text()
    assert "drop function public.registrar_evento(" in statements
    assert "drop function public.asignar_openai_conversation(uuid,text);" in statements
    assert (
        "grant execute on function public.asignar_openai_conversation(uuid,text) to service_role;"
        in statements
    )
    assert "alter table public.contactos alter column notas set default ''::text;" in statements
    assert "alter table public.contactos alter column notas set not null;" in statements
    assert re.search(r"create table public\.etiquetas \(\n  contacto_id uuid not null", statements)
    assert check(migrations, schemas, scratch=scratch) == []


def test_a_change_it_cannot_write_is_refused_by_name_and_nothing_is_written(
    scratch: Scratch, supabase: tuple[Path, Path]
) -> None:
    migrations, schemas = supabase
    _edit(schemas / "00_domains.sql", "(length(VALUE) <= 20)", "(length(VALUE) <= 30)")
    before = sorted(migrations.iterdir())

    with pytest.raises(CannotWrite, match=r"^domain public\.codigo_error$"):
        write_migration("wider_codes", migrations, schemas, scratch=scratch)

    assert sorted(migrations.iterdir()) == before


def test_a_broken_schema_file_is_named(scratch: Scratch, supabase: tuple[Path, Path]) -> None:
    migrations, schemas = supabase
    _append(schemas / "50_assistants.sql", "\ncreate tabel oops ();\n")

    with pytest.raises(SchemaError, match=r"^50_assistants\.sql: syntax error"):
        check(migrations, schemas, scratch=scratch)


def test_a_migration_name_is_checked_before_anything_runs(supabase: tuple[Path, Path]) -> None:
    migrations, schemas = supabase

    with pytest.raises(CannotWrite, match="lower-case letters, digits and _"):
        write_migration("Add Staff!", migrations, schemas)
