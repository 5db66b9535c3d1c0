"""What a database holds in TalIA's schemas, read from PostgreSQL's catalog.

Each object (a table, a column, a constraint, a function, a policy, a grant...) becomes a
`DbObject` with a stable key, a definition to compare and the SQL that creates and drops it,
all written by PostgreSQL itself where it can (`pg_get_functiondef`, `pg_get_indexdef`...).
Objects sort in creation order (their OIDs): in a database built once from scratch, that
order satisfies every dependency.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import psycopg

# The schemas migrations own; Supabase's own (auth, storage...) and the ledger are not ours.
OWNED_SCHEMAS: Final = ("public", "private")


@dataclass(frozen=True)
class DbObject:
    """One object of the schema: compared by `definition`, made by `create`."""

    kind: str
    name: str
    definition: str
    create: str
    drop: str
    order: tuple[int, int]
    # The table an object belongs to (a column, a constraint...): created with the table.
    table: str | None = None
    # Compared beside `definition`, but not part of what `create` writes (a column's place).
    detail: str = ""

    @property
    def fingerprint(self) -> tuple[str, str]:
        """What must be equal on both sides."""
        return (self.definition, self.detail)

    @property
    def key(self) -> tuple[str, str]:
        return (self.kind, self.name)


Catalog = dict[tuple[str, str], DbObject]


def read_catalog(conn: psycopg.Connection[Any]) -> Catalog:
    """Every object of `OWNED_SCHEMAS` in the database `conn` is connected to."""
    readers = (
        _simple,
        _domains,
        _columns,
        _constraints,
        _grants,
    )
    # Names print as the readers expect: schema-less only for `public`, on both sides.
    conn.execute("set search_path = public")
    objects = [item for reader in readers for item in reader(conn)]
    return {item.key: item for item in objects}


# Every query may read `owned_tables` (oid, name) and `acl_objects`: whatever has privileges,
# with its effective ACL (the default one when nothing was granted), ordered with the table
# its drop goes with (`table_name`: an owned sequence's table, a table itself).
_COMMON: Final = """
with owned_tables as (
    select c.oid as oid, format('%%I.%%I', n.nspname, c.relname) as name
    from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where c.relkind in ('r', 'p') and n.nspname = any(%(schemas)s)
),
acl_objects as (
    select coalesce(
               (select d.refobjid::int from pg_depend d
                where d.classid = 'pg_class'::regclass and d.objid = c.oid
                  and d.refclassid = 'pg_class'::regclass and d.deptype in ('a', 'i')),
               c.oid::int) as oid,
           case c.relkind when 'S' then 'sequence' else 'table' end as object_type,
           c.oid::regclass::text as name, c.relowner as owner,
           coalesce(c.relacl, acldefault(case c.relkind when 'S' then 's' else 'r' end::"char",
                                         c.relowner)) as acl,
           coalesce(
               (select d.refobjid::regclass::text from pg_depend d
                where d.classid = 'pg_class'::regclass and d.objid = c.oid
                  and d.refclassid = 'pg_class'::regclass and d.deptype in ('a', 'i')),
               case when c.relkind <> 'S' then c.oid::regclass::text end) as table_name
    from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where c.relkind in ('r', 'p', 'S') and n.nspname = any(%(schemas)s)
    union all
    select p.oid::int, case p.prokind when 'p' then 'procedure' else 'function' end,
           p.oid::regprocedure::text, p.proowner,
           coalesce(p.proacl, acldefault('f'::"char", p.proowner)), null
    from pg_proc p join pg_namespace n on n.oid = p.pronamespace
    where n.nspname = any(%(schemas)s)
    union all
    select n.oid::int, 'schema', quote_ident(n.nspname), n.nspowner,
           coalesce(n.nspacl, acldefault('n'::"char", n.nspowner)), null
    from pg_namespace n where n.nspname = any(%(schemas)s)
)
"""


def _rows(conn: psycopg.Connection[Any], query: str) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=psycopg.rows.dict_row) as cursor:
        cursor.execute(_COMMON + query, {"schemas": list(OWNED_SCHEMAS)})
        return cursor.fetchall()


# Objects PostgreSQL describes in one row each: `name` (schema-qualified), `definition`
# (compared), `create`, `drop`, and the `table_name` whose drop takes the object with it.
# Names are printed with the search path set to `public` alone (see `read_catalog`).
_SIMPLE: Final = {
    "extension": """
        select e.oid::int as oid, quote_ident(e.extname) as name,
               quote_ident(n.nspname) as definition,
               format('create extension if not exists %%I with schema %%I;', e.extname, n.nspname)
                   as create, format('drop extension %%I;', e.extname) as drop,
               null as table_name
        from pg_extension e join pg_namespace n on n.oid = e.extnamespace
        where e.extname <> 'plpgsql'
    """,
    "schema": """
        select oid::int as oid, quote_ident(nspname) as name, '' as definition,
               format('create schema %%I;', nspname) as create,
               format('drop schema %%I;', nspname) as drop, null as table_name
        from pg_namespace where nspname = any(%(schemas)s) and nspname <> 'public'
    """,
    "enum": """
        select t.oid::int as oid, qualified.name,
               string_agg(quote_literal(e.enumlabel), ', ' order by e.enumsortorder)
                   as definition,
               format('create type %%s as enum (%%s);', qualified.name,
                      string_agg(quote_literal(e.enumlabel), ', ' order by e.enumsortorder))
                   as create,
               format('drop type %%s;', qualified.name) as drop, null as table_name
        from pg_type t
        join pg_namespace n on n.oid = t.typnamespace
        join pg_enum e on e.enumtypid = t.oid
        cross join lateral (select format('%%I.%%I', n.nspname, t.typname) as name) qualified
        where n.nspname = any(%(schemas)s)
        group by t.oid, qualified.name
    """,
    "type": """
        select t.oid::int as oid, qualified.name,
               string_agg(format('%%I %%s', a.attname, format_type(a.atttypid, a.atttypmod)),
                          ', ' order by a.attnum) as definition,
               format('create type %%s as (%%s);', qualified.name,
                      string_agg(format('%%I %%s', a.attname, format_type(a.atttypid, a.atttypmod)),
                                 ', ' order by a.attnum)) as create,
               format('drop type %%s;', qualified.name) as drop, null as table_name
        from pg_type t
        join pg_namespace n on n.oid = t.typnamespace
        join pg_class c on c.oid = t.typrelid and c.relkind = 'c'
        join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
        cross join lateral (select format('%%I.%%I', n.nspname, t.typname) as name) qualified
        where n.nspname = any(%(schemas)s)
        group by t.oid, qualified.name
    """,
    "table": """
        select t.oid::int as oid, t.name, '' as definition,
               format('create table %%s ();', t.name) as create,
               format('drop table %%s;', t.name) as drop, null as table_name
        from owned_tables t
    """,
    "index": """
        select i.indexrelid::int as oid, format('%%I.%%I', n.nspname, c.relname) as name,
               pg_get_indexdef(i.indexrelid) as definition,
               pg_get_indexdef(i.indexrelid) || ';' as create,
               format('drop index %%I.%%I;', n.nspname, c.relname) as drop,
               t.name as table_name
        from owned_tables t
        join pg_index i on i.indrelid = t.oid
        join pg_class c on c.oid = i.indexrelid
        join pg_namespace n on n.oid = c.relnamespace
        where not exists (select 1 from pg_constraint k where k.conindid = i.indexrelid)
    """,
    "function": r"""
        select p.oid::int as oid, signature.name,
               trim(pg_get_functiondef(p.oid)) as definition,
               trim(pg_get_functiondef(p.oid)) || ';' as create,
               format('drop function %%s;', signature.name) as drop, null as table_name
        from pg_proc p
        join pg_namespace n on n.oid = p.pronamespace
        cross join lateral (
            select format('%%I.%%s', n.nspname,
                          regexp_replace(p.oid::regprocedure::text, '^[^(]*\.', '')) as name
        ) signature
        where n.nspname = any(%(schemas)s) and p.prokind in ('f', 'p')
    """,
    "trigger": """
        select g.oid::int as oid, format('%%s.%%I', t.name, g.tgname) as name,
               pg_get_triggerdef(g.oid) as definition,
               pg_get_triggerdef(g.oid) || ';' as create,
               format('drop trigger %%I on %%s;', g.tgname, t.name) as drop,
               t.name as table_name
        from owned_tables t join pg_trigger g on g.tgrelid = t.oid
        where not g.tgisinternal
    """,
    "row security": """
        select t.oid::int as oid, t.name, statements.text as definition,
               statements.text as create,
               format(e'alter table %%s disable row level security;\n'
                      'alter table %%s no force row level security;', t.name, t.name) as drop,
               t.name as table_name
        from owned_tables t
        join pg_class c on c.oid = t.oid
        cross join lateral (
            select concat_ws(e'\n',
                case when c.relrowsecurity
                     then format('alter table %%s enable row level security;', t.name) end,
                case when c.relforcerowsecurity
                     then format('alter table %%s force row level security;', t.name) end
            ) as text
        ) statements
        where c.relrowsecurity or c.relforcerowsecurity
    """,
    "policy": """
        select p.oid::int as oid, format('%%s.%%I', t.name, p.polname) as name,
               statement.text as definition, statement.text as create,
               format('drop policy %%I on %%s;', p.polname, t.name) as drop,
               t.name as table_name
        from owned_tables t
        join pg_policy p on p.polrelid = t.oid
        cross join lateral (
            select concat_ws(e'\n',
                format('create policy %%I on %%s', p.polname, t.name),
                '  as ' || case when p.polpermissive then 'permissive' else 'restrictive' end,
                '  for ' || case p.polcmd when 'r' then 'select' when 'a' then 'insert'
                                          when 'w' then 'update' when 'd' then 'delete'
                                          else 'all' end,
                '  to ' || (select string_agg(case when r = 0 then 'public'
                                                   else quote_ident(r::regrole::text) end,
                                              ', ' order by 1)
                            from unnest(p.polroles) r),
                '  using (' || pg_get_expr(p.polqual, p.polrelid) || ')',
                '  with check (' || pg_get_expr(p.polwithcheck, p.polrelid) || ')'
            ) || ';' as text
        ) statement
    """,
}


def _simple(conn: psycopg.Connection[Any]) -> list[DbObject]:
    unsupported = _rows(
        conn,
        """
        select c.oid::regclass::text as name from pg_class c
        join pg_namespace n on n.oid = c.relnamespace
        where c.relkind in ('v', 'm', 'f') and n.nspname = any(%(schemas)s)
        """,
    )
    if unsupported:
        names = ", ".join(row["name"] for row in unsupported)
        raise NotImplementedError(f"views and foreign tables are not compared yet: {names}")
    return [
        DbObject(
            "type" if kind == "enum" else kind,
            row["name"],
            row["definition"],
            row["create"],
            row["drop"],
            # Row security is switched on once the table's columns exist.
            (row["oid"], 1_000_000 if kind == "row security" else 0),
            table=row["table_name"],
        )
        for kind, query in _SIMPLE.items()
        for row in _rows(conn, query)
    ]


def _domains(conn: psycopg.Connection[Any]) -> list[DbObject]:
    rows = _rows(
        conn,
        """
        select t.oid::int as oid, t.oid::regtype::text as name,
               format_type(t.typbasetype, t.typtypmod) as base, t.typnotnull as not_null,
               t.typdefault as default_value,
               (select string_agg(
                    'constraint ' || quote_ident(c.conname) || ' ' || pg_get_constraintdef(c.oid),
                    e'\n  ' order by c.conname)
                from pg_constraint c where c.contypid = t.oid) as checks
        from pg_type t join pg_namespace n on n.oid = t.typnamespace
        where t.typtype = 'd' and n.nspname = any(%(schemas)s)
        """,
    )
    objects = []
    for row in rows:
        name = _qualified(row["name"])
        parts = [f"create domain {name} as {row['base']}"]
        if row["default_value"] is not None:
            parts.append(f"default {row['default_value']}")
        if row["not_null"]:
            parts.append("not null")
        if row["checks"]:
            parts.append(row["checks"])
        create = "\n  ".join(parts) + ";"
        objects.append(
            DbObject("domain", name, create, create, f"drop domain {name};", (row["oid"], 0))
        )
    return objects


def _columns(conn: psycopg.Connection[Any]) -> list[DbObject]:
    rows = _rows(
        conn,
        """
        select t.oid as oid, t.name as table_name, a.attnum::int as position,
               row_number() over (partition by t.oid order by a.attnum) as place,
               quote_ident(a.attname) as column_name,
               format_type(a.atttypid, a.atttypmod) as type, a.attnotnull as not_null,
               a.attidentity as identity, a.attgenerated as generated,
               pg_get_expr(d.adbin, d.adrelid) as default_value,
               exists (
                   select 1 from pg_depend dep join pg_class s on s.oid = dep.objid
                   where s.relkind = 'S' and dep.refobjid = t.oid
                     and dep.refobjsubid = a.attnum and dep.deptype = 'a'
               ) as serial
        from owned_tables t
        join pg_attribute a on a.attrelid = t.oid and a.attnum > 0 and not a.attisdropped
        left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
        """,
    )
    objects = []
    for row in rows:
        table = _qualified(row["table_name"])
        column = row["column_name"]
        spec = _column_spec(row)
        objects.append(
            DbObject(
                "column",
                f"{table}.{column}",
                spec,
                f"alter table {table} add column {column} {spec};",
                f"alter table {table} drop column {column};",
                (row["oid"], row["position"]),
                table=table,
                detail=f"column {row['place']}",
            )
        )
    return objects


def _column_spec(row: dict[str, Any]) -> str:
    """A column's type and options as `create table` writes them."""
    serial_types = {"bigint": "bigserial", "integer": "serial", "smallint": "smallserial"}
    if row["serial"] and row["type"] in serial_types:
        parts = [serial_types[row["type"]]]
    else:
        parts = [row["type"]]
        if row["generated"] == "s":
            parts.append(f"generated always as ({row['default_value']}) stored")
        elif row["default_value"] is not None:
            parts.append(f"default {row['default_value']}")
    if row["identity"] == "a":
        parts.append("generated always as identity")
    elif row["identity"] == "d":
        parts.append("generated by default as identity")
    if row["not_null"] and not (row["serial"] or row["identity"]):
        parts.append("not null")
    return " ".join(parts)


def _constraints(conn: psycopg.Connection[Any]) -> list[DbObject]:
    rows = _rows(
        conn,
        """
        select t.name as table_name, c.oid::int as oid, quote_ident(c.conname) as name,
               c.contype as type, pg_get_constraintdef(c.oid) as definition
        from owned_tables t join pg_constraint c on c.conrelid = t.oid
        where c.contype <> 'n'
        """,
    )
    objects = []
    for row in rows:
        table = _qualified(row["table_name"])
        # Keys first, so a foreign key added with them finds its target.
        rank = 0 if row["type"] in {"p", "u"} else 1
        objects.append(
            DbObject(
                "constraint",
                f"{table}.{row['name']}",
                row["definition"],
                f"alter table {table} add constraint {row['name']} {row['definition']};",
                f"alter table {table} drop constraint {row['name']};",
                (row["oid"], rank),
                table=table,
            )
        )
    return objects


def _grants(conn: psycopg.Connection[Any]) -> list[DbObject]:
    """One object per object with privileges, listing its grants (none: empty)."""
    rows = _rows(
        conn,
        """
        select o.oid, o.object_type, o.name, o.table_name,
               case when x.grantee = 0 then 'public'
                    else quote_ident(x.grantee::regrole::text) end as grantee,
               string_agg(lower(x.privilege_type)
                          || case when x.is_grantable then ' with grant option' else '' end,
                          ', ' order by x.privilege_type) as privileges
        from acl_objects o
        left join lateral (
            select * from aclexplode(o.acl) e
            -- MAINTAIN exists from PostgreSQL 17 only (Supabase runs 15): not compared.
            where e.grantee <> o.owner and e.privilege_type <> 'MAINTAIN'
        ) x on true
        group by o.oid, o.object_type, o.name, o.table_name, x.grantee
        """,
    )
    by_object: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in rows:
        name = row["name"] if row["object_type"] == "schema" else _qualified(row["name"])
        by_object.setdefault((row["object_type"], name), []).append(row)
    objects = []
    for (object_type, name), grants in by_object.items():
        target = f"{object_type} {name}"
        granted = [grant for grant in grants if grant["privileges"] is not None]
        lines = "\n".join(sorted(_grant_line(object_type, target, g) for g in granted))
        grantees = ", ".join(sorted(grant["grantee"] for grant in granted))
        table = grants[0]["table_name"]
        # What each role may do, whatever default privileges gave it on creation.
        create = lines
        if object_type != "schema":
            create = f"revoke all on {target} from {_API_ROLES};\n{lines}".strip()
        objects.append(
            DbObject(
                "grant",
                target,
                lines,
                create,
                f"revoke all on {target} from {grantees};" if granted else "",
                (grants[0]["oid"], 2_000_000),
                table=_qualified(table) if table else None,
            )
        )
    return objects


# The roles Supabase's default privileges give everything new in `public`.
_API_ROLES: Final = "public, anon, authenticated, service_role"
# Every privilege of each kind of object (MAINTAIN aside): granting them all is `all`.
_ALL_PRIVILEGES: Final = {
    "table": {"select", "insert", "update", "delete", "truncate", "references", "trigger"},
    "sequence": {"select", "update", "usage"},
    "function": {"execute"},
    "procedure": {"execute"},
    "schema": {"create", "usage"},
}


def _grant_line(object_type: str, target: str, grant: dict[str, Any]) -> str:
    privileges: list[str] = grant["privileges"].split(", ")
    plain = [p for p in privileges if not p.endswith(" with grant option")]
    optioned = [p.removesuffix(" with grant option") for p in privileges if p not in plain]
    lines = []
    for names, suffix in ((plain, ""), (optioned, " with grant option")):
        if not names:
            continue
        every = _ALL_PRIVILEGES[object_type]
        listed = "all" if len(every) > 1 and set(names) == every else ", ".join(names)
        lines.append(f"grant {listed} on {target} to {grant['grantee']}{suffix};")
    return "\n".join(lines)


def _qualified(name: str) -> str:
    """`name` with its schema: regclass/regtype print `public` objects without it."""
    return name if "." in name.split("(", 1)[0] else f"public.{name}"
