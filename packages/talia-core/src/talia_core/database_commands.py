"""What the `talia` subcommands that read and write the business's records (`staff`,
`webhooks`) share: each action is a coroutine on a database URL that returns its output."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from talia_core.config import DatabaseSettings, load_settings
from talia_core.errors import TaliaError

Handler = Callable[[argparse.Namespace], None]
# An action, as `set_defaults(run=...)` names it: its output for the terminal.
Command = Callable[[argparse.Namespace, str], Coroutine[Any, Any, str]]


def run_database_command(args: argparse.Namespace, database_url: str) -> None:
    """Run the parsed action (`args.run`) against this database and print what it says."""
    command: Command = args.run
    try:
        output = asyncio.run(command(args, database_url))
    except TaliaError as exc:  # refused: an email taken, an unknown event, a private target...
        raise SystemExit(f"talia: {exc.message}") from None
    sys.stdout.write(output)


def on_configured_database(args: argparse.Namespace) -> None:
    """The image's handler: the action on `DATABASE_URL`."""
    run_database_command(args, load_settings(DatabaseSettings).database_url.get_secret_value())
