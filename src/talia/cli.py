"""`talia`: run TalIA locally (`dev`) and manage its database (`migrate`, `db`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from talia.paths import LOCAL_DATA_DIR
from talia.schema.build import SchemaError
from talia.schema.compare import CannotWrite
from talia_core.assistants.profile import ProfileError
from talia_core.config import ConfigError, LoggingSettings, load_settings
from talia_core.logging import configure_logging
from talia_core.migrations import MigrationError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="talia", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    dev = commands.add_parser(
        "dev", help="run the three apps on 8001-8003 over a local database until Ctrl-C"
    )
    dev.add_argument("--host", default="127.0.0.1", help="interface to listen on")
    dev.add_argument(
        "--base-port",
        type=int,
        default=8001,
        help="whatsapp listens here, webchat on the next port, voice on the one after",
    )
    dev.add_argument(
        "--data-dir",
        type=Path,
        default=LOCAL_DATA_DIR,
        help="where the embedded PostgreSQL keeps its data (default: .talia/)",
    )

    commands.add_parser(
        "migrate", help="apply pending supabase/migrations to DATABASE_URL (or the local database)"
    )

    database = commands.add_parser(
        "db", help="supabase/schemas/ against supabase/migrations/"
    ).add_subparsers(dest="action", required=True)
    database.add_parser(
        "check", help="fail, naming each object, where the schema files and migrations differ"
    )
    diff = database.add_parser(
        "diff", help="write the next migration from what supabase/schemas/ changed"
    )
    diff.add_argument("name", help="the migration's name, e.g. add_staff_table")

    assistants = commands.add_parser("assistants", help="manage assistant profiles").add_subparsers(
        dest="action", required=True
    )
    importing = assistants.add_parser("import", help="validate a YAML/JSON profile and store it")
    importing.add_argument("path", type=Path)
    exporting = assistants.add_parser("export", help="print a stored profile as YAML")
    exporting.add_argument("key")
    assistants.add_parser("list", help="list stored profiles")
    return parser


def _assistants(args: argparse.Namespace) -> None:
    import asyncio

    from talia import assistants
    from talia.database import local_or_configured_database
    from talia.paths import MIGRATIONS_DIR
    from talia_core.migrations import migrate

    with local_or_configured_database(LOCAL_DATA_DIR) as database:
        if database.embedded:
            migrate(database.url, MIGRATIONS_DIR)
        if args.action == "import":
            print(asyncio.run(assistants.import_profile(database.url, args.path)))
        elif args.action == "export":
            exported = asyncio.run(assistants.export_profile(database.url, args.key))
            if exported is None:
                sys.exit(f"talia: no assistant profile '{args.key}'")
            print(exported, end="")
        else:
            for line in asyncio.run(assistants.list_profiles(database.url)):
                print(line)


def _db(args: argparse.Namespace) -> None:
    from talia.paths import MIGRATIONS_DIR, SCHEMAS_DIR
    from talia.schema import check, write_migration

    if args.action == "check":
        found = check(MIGRATIONS_DIR, SCHEMAS_DIR)
        for difference in found:
            print(difference)
        if found:
            sys.exit(
                f"talia db check: {len(found)} objects differ between supabase/schemas/ and "
                "supabase/migrations/; edit the schema files and run `talia db diff NAME`"
            )
        print("supabase/schemas/ and supabase/migrations/ agree")
        return
    written = write_migration(args.name, MIGRATIONS_DIR, SCHEMAS_DIR)
    if written is None:
        print("nothing to write: supabase/schemas/ and supabase/migrations/ agree")
    else:
        print(f"wrote {written.relative_to(MIGRATIONS_DIR.parents[1])}")


def _migrate() -> None:
    from talia.database import local_or_configured_database
    from talia.paths import MIGRATIONS_DIR
    from talia_core.migrations import migrate

    configure_logging(load_settings(LoggingSettings))
    with local_or_configured_database(LOCAL_DATA_DIR) as database:
        applied = migrate(database.url, MIGRATIONS_DIR)
    for migration in applied:
        print(f"applied {migration.path.name}")
    if not applied:
        print("database is up to date")


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `talia` command."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "dev":
            from talia.dev import run_dev

            run_dev(host=args.host, base_port=args.base_port, data_dir=args.data_dir)
        elif args.command == "migrate":
            _migrate()
        elif args.command == "assistants":
            _assistants(args)
        elif args.command == "db":
            _db(args)
    except ConfigError as exc:
        sys.exit(f"talia: configuration error: {exc}")
    except MigrationError as exc:
        sys.exit(f"talia: migration failed: {exc}")
    except (SchemaError, CannotWrite) as exc:
        sys.exit(f"talia db {args.action}: {exc}")
    except ProfileError as exc:
        sys.exit(f"talia: invalid assistant profile: {exc}")
    except KeyboardInterrupt:
        sys.exit(130)
