"""The difference between two catalogs, and the migration that removes it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal

from talia.schema.catalog import Catalog, DbObject

Where = Literal["schemas only", "migrations only", "differs"]


@dataclass(frozen=True)
class Difference:
    """One object that is not the same in `supabase/schemas/` and the migrations."""

    kind: str
    name: str
    where: Where

    def __str__(self) -> str:
        return f"{self.kind} {self.name}: {self.where}"


class CannotWrite(Exception):
    """Changes `talia db diff` does not write; they go in the migration by hand."""


def differences(current: Catalog, wanted: Catalog) -> list[Difference]:
    """What differs between the database the migrations build (`current`) and the one the
    schema files build (`wanted`), in the order the objects are made."""
    # A table only one side has is one difference, not one per column, key and grant.
    only_wanted = {o.name for k, o in wanted.items() if o.kind == "table" and k not in current}
    only_current = {o.name for k, o in current.items() if o.kind == "table" and k not in wanted}
    found = [
        Difference(obj.kind, obj.name, "schemas only")
        for key, obj in wanted.items()
        if key not in current and (obj.kind == "table" or obj.table not in only_wanted)
    ]
    found += [
        Difference(obj.kind, obj.name, "migrations only")
        for key, obj in current.items()
        if key not in wanted and (obj.kind == "table" or obj.table not in only_current)
    ]
    found += [
        Difference(obj.kind, obj.name, "differs")
        for key, obj in wanted.items()
        if key in current and current[key].fingerprint != obj.fingerprint
    ]
    order = {**{k: o.order for k, o in current.items()}, **{k: o.order for k, o in wanted.items()}}
    return sorted(found, key=lambda d: order[(d.kind, d.name)])


def migration_sql(current: Catalog, wanted: Catalog) -> str:
    """The statements that turn `current` into `wanted`: drops first (newest first), then
    creations and changes in creation order. Raises CannotWrite for what needs a person."""
    dropped_tables = {o.name for k, o in current.items() if o.kind == "table" and k not in wanted}
    created_tables = {o.name for k, o in wanted.items() if o.kind == "table" and k not in current}
    drops: list[DbObject] = [
        obj
        for key, obj in current.items()
        if key not in wanted and obj.table not in dropped_tables and _still_exists(obj, wanted)
    ]
    statements: list[str] = [
        obj.drop for obj in sorted(drops, key=lambda o: o.order, reverse=True) if obj.drop
    ]
    by_table: dict[str, list[DbObject]] = {}
    for obj in wanted.values():
        if obj.table in created_tables and obj.kind in {"column", "constraint"}:
            by_table.setdefault(obj.table, []).append(obj)
    unwritable: list[str] = []
    recreated: set[str] = set()  # functions dropped and created again lose their grants
    for key, obj in sorted(wanted.items(), key=lambda item: item[1].order):
        if obj.table in created_tables and obj.kind in {"column", "constraint"}:
            continue  # written inside its `create table`
        if obj.kind == "grant" and obj.name.split(" ", 1)[1] in recreated:
            statements.append(obj.create)
        elif key not in current:
            statements.append(
                _create_table(obj, by_table.get(obj.name, []))
                if obj.kind == "table"
                else obj.create
            )
        elif current[key].fingerprint != obj.fingerprint:
            if obj.kind == "function" and _recreates(current[key], obj):
                recreated.add(obj.name)
            change = _change(current[key], obj)
            if change is None:
                unwritable.append(f"{obj.kind} {obj.name}")
            else:
                statements.append(change)
    if unwritable:
        raise CannotWrite(", ".join(unwritable))
    written = [statement for statement in statements if statement]
    return "\n\n".join(written) + "\n" if written else ""


def _still_exists(obj: DbObject, wanted: Catalog) -> bool:
    """False for the grants of a function or schema that goes (its privileges go with it;
    a table's and its sequences' go with the table)."""
    if obj.kind != "grant" or obj.table is not None:
        return True
    object_type, name = obj.name.split(" ", 1)
    return ({"procedure": "function"}.get(object_type, object_type), name) in wanted


def _create_table(table: DbObject, parts: list[DbObject]) -> str:
    columns = [p for p in sorted(parts, key=lambda p: p.order) if p.kind == "column"]
    keys = [p for p in sorted(parts, key=lambda p: p.order) if p.kind == "constraint"]
    lines = [f"{_local(c.name)} {c.definition}" for c in columns]
    lines += [f"constraint {_local(k.name)} {k.definition}" for k in keys]
    body = ",\n  ".join(lines)
    return f"create table {table.name} (\n  {body}\n);"


def _local(name: str) -> str:
    """A column's or constraint's own name, from `schema.table.name`."""
    return name.split(".", 2)[2]


# What `pg_get_functiondef` writes before the body: a change there needs drop and create.
_FUNCTION_HEAD: Final = re.compile(
    r"^(CREATE OR REPLACE (?:FUNCTION|PROCEDURE) .*\n\s*RETURNS .*)$", re.M
)


def _change(old: DbObject, new: DbObject) -> str | None:
    """The statements that change `old` into `new`, or None if a person must write them."""
    if new.kind in {"constraint", "index", "trigger", "policy", "row security"}:
        return f"{old.drop}\n{new.create}"
    changes = {
        "function": _replace_function,
        "grant": _regrant,
        "column": _alter_column,
        "type": _extend_enum,
    }
    change = changes.get(new.kind)
    return change(old, new) if change else None


def _recreates(old: DbObject, new: DbObject) -> bool:
    """Whether a changed function must be dropped and created again: `create or replace`
    cannot change what it returns, nor its arguments' names."""
    old_head = _FUNCTION_HEAD.search(old.definition)
    new_head = _FUNCTION_HEAD.search(new.definition)
    return not (old_head and new_head and old_head.group(1) == new_head.group(1))


def _replace_function(old: DbObject, new: DbObject) -> str:
    return f"{old.drop}\n{new.create}" if _recreates(old, new) else new.create


def _regrant(old: DbObject, new: DbObject) -> str:
    """Revoke what `old` granted, unless the new grants begin by revoking it all anyway."""
    first = new.create.partition("\n")[0]
    if old.drop and first.startswith(old.drop.partition(" from ")[0]):
        revoked = set(_grantees(first))
        if revoked.issuperset(_grantees(old.drop)):
            return new.create
    return "\n".join(part for part in (old.drop, new.create) if part)


def _grantees(revoke: str) -> list[str]:
    """The roles a `revoke ... from a, b;` line names."""
    return [role.strip() for role in revoke.rstrip(";").rpartition(" from ")[2].split(",")]


def _extend_enum(old: DbObject, new: DbObject) -> str | None:
    """Labels added at the end of an enum; any other change to a type is by hand."""
    if not (old.definition and new.definition.startswith(old.definition + ", ")):
        return None
    added = new.definition[len(old.definition) + 2 :].split(", ")
    return "\n".join(f"alter type {new.name} add value {label};" for label in added)


_COLUMN: Final = re.compile(
    r"^(?P<type>.+?)(?: default (?P<default>.+?))?(?P<not_null> not null)?$", re.S
)


def _alter_column(old: DbObject, new: DbObject) -> str | None:
    if old.detail != new.detail:
        return None  # a column moved: PostgreSQL adds columns only at the end
    if any(
        word in text
        for text in (old.definition, new.definition)
        for word in ("serial", "generated")
    ):
        return None  # identity, serial and generated columns change by hand
    old_parts, new_parts = _COLUMN.match(old.definition), _COLUMN.match(new.definition)
    if old_parts is None or new_parts is None:
        return None
    table, column = new.name.rsplit(".", 1)
    statements = []
    if old_parts["type"] != new_parts["type"]:
        statements.append(f"alter table {table} alter column {column} type {new_parts['type']};")
    if old_parts["default"] != new_parts["default"]:
        change = f"set default {new_parts['default']}" if new_parts["default"] else "drop default"
        statements.append(f"alter table {table} alter column {column} {change};")
    if bool(old_parts["not_null"]) != bool(new_parts["not_null"]):
        change = "set not null" if new_parts["not_null"] else "drop not null"
        statements.append(f"alter table {table} alter column {column} {change};")
    return "\n".join(statements)
