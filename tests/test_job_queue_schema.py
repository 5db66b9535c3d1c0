"""The job queue's migration is the installed procrastinate's own schema, unedited."""

from pathlib import Path

from procrastinate.schema import SchemaManager

MIGRATION = (
    Path(__file__).parents[1]
    / "supabase"
    / "migrations"
    / "20251027000000_procrastinate_schema.sql"
)


def test_the_migration_matches_the_installed_procrastinate() -> None:
    text = MIGRATION.read_text()
    body = text[text.index("-- Procrastinate Schema") :]

    # When this fails after an upgrade: add procrastinate's migrations as new files.
    assert body == SchemaManager.get_schema()
