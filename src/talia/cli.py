"""What a checkout adds to the `talia` command: `dev`, `db`, `assistants`, and `migrate` and
`staff` and `webhooks` on the local database when `DATABASE_URL` is unset (entry point
`talia.commands`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from talia.paths import LOCAL_DATA_DIR
from talia.schema.build import SchemaError
from talia.schema.compare import CannotWrite
from talia.simulate import add_simulate, run_simulation
from talia_core.assistants.profile import ProfileError
from talia_core.cli import MIGRATIONS, Handler, report_migrations
from talia_core.cli import main as talia_main
from talia_core.config import LoggingSettings, load_settings
from talia_core.logging import configure_logging


def register(commands: Any) -> dict[str, Handler]:
    """Add the development commands to `talia`'s parser; their handlers."""
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
    add_simulate(commands)
    return {
        "simulate": run_simulation,
        "dev": _explained(_dev),
        "migrate": _explained(_migrate),
        "db": _explained(_db),
        "assistants": _explained(_assistants),
        "staff": _on_local_database,
        "webhooks": _on_local_database,
    }


def _explained(handler: Handler) -> Handler:
    """`handler`, its errors told in one line each (no traceback)."""

    def run(args: argparse.Namespace) -> None:
        try:
            handler(args)
        except (SchemaError, CannotWrite) as exc:
            sys.exit(f"talia db {args.action}: {exc}")
        except ProfileError as exc:
            sys.exit(f"talia: invalid assistant profile: {exc}")

    return run


def _dev(args: argparse.Namespace) -> None:
    from talia.dev import run_dev

    run_dev(host=args.host, base_port=args.base_port, data_dir=args.data_dir)


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


def _on_local_database(args: argparse.Namespace) -> None:
    """The image's `talia staff` and `talia webhooks`, on the embedded database when
    `DATABASE_URL` is unset."""
    from talia.database import local_or_configured_database
    from talia.paths import MIGRATIONS_DIR
    from talia_core.database_commands import run_database_command
    from talia_core.migrations import migrate

    with local_or_configured_database(LOCAL_DATA_DIR) as database:
        if database.embedded:
            migrate(database.url, MIGRATIONS_DIR)
        run_database_command(args, database.url)


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


def _migrate(args: argparse.Namespace) -> None:
    """The image's `talia migrate`, on the embedded database when `DATABASE_URL` is unset."""
    from talia.database import local_or_configured_database
    from talia.paths import MIGRATIONS_DIR
    from talia_core.migrations import migrate

    configure_logging(load_settings(LoggingSettings))
    directory = MIGRATIONS_DIR if args.migrations == MIGRATIONS else args.migrations
    with local_or_configured_database(LOCAL_DATA_DIR) as database:
        report_migrations(migrate(database.url, directory))


def main(argv: list[str] | None = None) -> None:
    """The `talia` command (the same as the installed one)."""
    talia_main(argv)
