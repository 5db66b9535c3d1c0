"""`talia staff add|list|disable`: who of the business may sign in to the console."""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import cast
from uuid import UUID

from talia_core.database_commands import Handler, on_configured_database
from talia_core.db import single_connection_pool
from talia_core.repositories.agentes import AgentesRepository, Rol


@asynccontextmanager
async def _staff(url: str) -> AsyncIterator[AgentesRepository]:
    async with single_connection_pool(url) as pool:
        yield AgentesRepository(pool)


async def _add(args: argparse.Namespace, url: str) -> str:
    async with _staff(url) as staff:
        user = args.id or await staff.auth_user_id(args.email)
        if user is None:
            raise SystemExit(
                f"talia: no Supabase Auth user has the email {args.email}: invite them"
                " (Supabase dashboard, Authentication) or pass their user id with --id"
            )
        role = cast("Rol", args.role)
        new = await staff.save(auth_user_id=user, email=args.email, nombre=args.name, rol=role)
    return f"{'added' if new else 'updated'} {args.email.lower()} as {args.role}\n"


async def _list(_: argparse.Namespace, url: str) -> str:
    async with _staff(url) as staff:
        members = await staff.list()
    if not members:
        return "no staff yet: talia staff add EMAIL --name NAME --role admin\n"
    width = max(len(member.email) for member in members)
    return "".join(
        f"{m.email:{width}}  {m.rol:5}  {'active' if m.activo else 'disabled':8}  {m.nombre}\n"
        for m in members
    )


async def _disable(args: argparse.Namespace, url: str) -> str:
    async with _staff(url) as staff:
        if not await staff.disable(args.email):
            raise SystemExit(f"talia: no staff member has the email {args.email}")
    return f"disabled {args.email.lower()}\n"


def add_staff_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> Handler:
    """Add `talia staff ...` to the parser; its handler."""
    parser = commands.add_parser("staff", help="who of the business may sign in to the console")
    actions = parser.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", help="add a staff member, or update one")
    add.add_argument("email")
    add.add_argument("--name", required=True)
    add.add_argument("--role", choices=["agent", "admin"], default="agent")
    add.add_argument("--id", type=UUID, help="their Supabase Auth user id (else found by email)")
    add.set_defaults(run=_add)
    actions.add_parser("list", help="every staff member").set_defaults(run=_list)
    disable = actions.add_parser("disable", help="stop a staff member from signing in")
    disable.add_argument("email")
    disable.set_defaults(run=_disable)
    return on_configured_database
