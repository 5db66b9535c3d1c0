"""`talia`: the commands every image has (`talia migrate`, `talia staff`, `talia webhooks`),
and that a checkout extends.

Installed packages add commands through the `talia.commands` entry points: each names a
function that adds its subcommands to the parser and returns their handlers (it may also
replace a handler of ours, as the development package does to migrate its local database).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from importlib.metadata import entry_points
from pathlib import Path

from talia_core.config import ConfigError, DatabaseSettings, LoggingSettings, load_settings
from talia_core.logging import configure_logging
from talia_core.migrations import Migration, MigrationError, migrate
from talia_core.staff import add_staff_commands
from talia_core.webhook_commands import add_webhook_commands

Handler = Callable[[argparse.Namespace], None]
# Where the images keep the migrations (WORKDIR /app), and a checkout has them.
MIGRATIONS: Path = Path("supabase/migrations")


def _migrate(args: argparse.Namespace) -> None:
    configure_logging(load_settings(LoggingSettings))
    database = load_settings(DatabaseSettings)
    applied = migrate(database.database_url.get_secret_value(), args.migrations)
    report_migrations(applied)


def report_migrations(applied: list[Migration]) -> None:
    """One line per migration applied, or that there was none to apply."""
    for migration in applied:
        sys.stdout.write(f"applied {migration.path.name}\n")
    if not applied:
        sys.stdout.write("database is up to date\n")


def _parser() -> tuple[argparse.ArgumentParser, dict[str, Handler]]:
    parser = argparse.ArgumentParser(prog="talia", description="TalIA's command line.")
    commands = parser.add_subparsers(dest="command", required=True)
    migrate_parser = commands.add_parser(
        "migrate", help="apply pending supabase/migrations to DATABASE_URL"
    )
    migrate_parser.add_argument(
        "--migrations",
        type=Path,
        default=MIGRATIONS,
        help="the migrations folder (default: supabase/migrations)",
    )
    handlers: dict[str, Handler] = {
        "migrate": _migrate,
        "staff": add_staff_commands(commands),
        "webhooks": add_webhook_commands(commands),
    }
    for plugin in entry_points(group="talia.commands"):
        handlers.update(plugin.load()(commands))
    return parser, handlers


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `talia` command."""
    parser, handlers = _parser()
    args = parser.parse_args(argv)
    try:
        handlers[args.command](args)
    except ConfigError as exc:
        sys.exit(f"talia: configuration error: {exc}")
    except MigrationError as exc:
        sys.exit(f"talia: migration failed: {exc}")
    except KeyboardInterrupt:
        sys.exit(130)
