"""Row level security: anon sees nothing, active staff read, only the server writes."""

import json
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql

TABLES = ("contactos", "conversaciones", "mensajes", "eventos", "asistentes")
ACTIVE_AGENT, DISABLED_AGENT = uuid.uuid4(), uuid.uuid4()


@pytest.fixture
def conn(database_url: str) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    with psycopg.connect(database_url, autocommit=True) as connection:
        connection.execute(
            "select public.registrar_mensaje_entrante('whatsapp', 'whatsapp:+34600000001',"
            " 'default', 'SM1', 'hola')"
        )
        connection.execute("select public.guardar_asistente('default', '{\"model\": \"m\"}')")
        for user, email in ((ACTIVE_AGENT, "ana@example.com"), (DISABLED_AGENT, "eva@example.com")):
            connection.execute(
                "select public.guardar_agente(%s, %s, 'Staff', 'agent')", (user, email)
            )
        connection.execute("select public.desactivar_agente('EVA@example.com')")
        yield connection


def _as_role(
    conn: psycopg.Connection[tuple[object, ...]],
    role: str,
    statement: sql.SQL | sql.Composed,
    *,
    user: uuid.UUID | None = None,
) -> list[tuple[object, ...]]:
    """`statement` as PostgREST runs it for `role`, signed in as `user` (a JWT's `sub`)."""
    with conn.transaction(force_rollback=True):
        if user is not None:
            claims = json.dumps({"sub": str(user), "role": role})
            conn.execute("select set_config('request.jwt.claims', %s, true)", (claims,))
        conn.execute(sql.SQL("set local role {}").format(sql.Identifier(role)))
        return conn.execute(statement).fetchall()


def _count(table: str) -> sql.Composed:
    return sql.SQL("select count(*) from public.{}").format(sql.Identifier(table))


@pytest.mark.parametrize("table", [*TABLES, "agentes"])
def test_anon_cannot_read_any_table(
    conn: psycopg.Connection[tuple[object, ...]], table: str
) -> None:
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        _as_role(conn, "anon", sql.SQL("select * from public.{}").format(sql.Identifier(table)))


@pytest.mark.parametrize("table", [*TABLES, "agentes"])
def test_anon_cannot_write_any_table(
    conn: psycopg.Connection[tuple[object, ...]], table: str
) -> None:
    statement = sql.SQL("delete from public.{}").format(sql.Identifier(table))

    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        _as_role(conn, "anon", statement)


def test_anon_cannot_execute_any_write_function(
    conn: psycopg.Connection[tuple[object, ...]],
) -> None:
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        _as_role(
            conn,
            "anon",
            sql.SQL(
                "select public.registrar_mensaje_entrante('whatsapp', 'x', 'default', 'SM2', 'hi')"
            ),
        )


@pytest.mark.parametrize("table", TABLES)
def test_active_staff_can_read(conn: psycopg.Connection[tuple[object, ...]], table: str) -> None:
    rows = _as_role(conn, "authenticated", _count(table), user=ACTIVE_AGENT)

    assert rows != [(0,)]


@pytest.mark.parametrize("table", TABLES)
def test_a_signed_in_user_who_is_not_staff_reads_nothing(
    conn: psycopg.Connection[tuple[object, ...]], table: str
) -> None:
    # On Supabase, anyone who can sign up to the project is `authenticated`.
    stranger = _as_role(conn, "authenticated", _count(table), user=uuid.uuid4())
    no_one = _as_role(conn, "authenticated", _count(table))

    assert stranger == no_one == [(0,)]


@pytest.mark.parametrize("table", TABLES)
def test_disabled_staff_read_nothing(
    conn: psycopg.Connection[tuple[object, ...]], table: str
) -> None:
    assert _as_role(conn, "authenticated", _count(table), user=DISABLED_AGENT) == [(0,)]


def test_staff_see_their_own_staff_row_only(
    conn: psycopg.Connection[tuple[object, ...]],
) -> None:
    rows = _as_role(
        conn,
        "authenticated",
        sql.SQL("select email, rol, activo from public.agentes"),
        user=ACTIVE_AGENT,
    )

    assert rows == [("ana@example.com", "agent", True)]


@pytest.mark.parametrize("table", TABLES)
def test_staff_cannot_write(conn: psycopg.Connection[tuple[object, ...]], table: str) -> None:
    statement = sql.SQL("delete from public.{}").format(sql.Identifier(table))

    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        _as_role(conn, "authenticated", statement, user=ACTIVE_AGENT)


def test_staff_cannot_call_the_write_api(
    conn: psycopg.Connection[tuple[object, ...]],
) -> None:
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        _as_role(
            conn,
            "authenticated",
            sql.SQL("select public.olvidar_contacto(gen_random_uuid())"),
            user=ACTIVE_AGENT,
        )


def test_service_role_reads_writes_and_calls_functions(
    conn: psycopg.Connection[tuple[object, ...]],
) -> None:
    rows = _as_role(
        conn,
        "service_role",
        sql.SQL(
            "select (select count(*) from public.mensajes),"
            " (public.registrar_mensaje_entrante("
            "'voice', '+34600000002', 'default', 'CA1:1', 'hi')).repetido"
        ),
    )

    assert rows == [(1, False)]


def test_no_function_or_view_lets_api_roles_around_rls(
    conn: psycopg.Connection[tuple[object, ...]],
) -> None:
    definers = conn.execute(
        "select p.proname from pg_proc p join pg_namespace n on n.oid = p.pronamespace"
        " where n.nspname = 'public' and p.prosecdef"
        " and (has_function_privilege('anon', p.oid, 'execute')"
        "      or has_function_privilege('authenticated', p.oid, 'execute'))"
    ).fetchall()
    views = conn.execute("select viewname from pg_views where schemaname = 'public'").fetchall()
    without_rls = conn.execute(
        "select relname from pg_class c join pg_namespace n on n.oid = c.relnamespace"
        " where n.nspname = 'public' and c.relkind = 'r' and not c.relrowsecurity"
    ).fetchall()

    assert definers == []
    assert views == []
    assert without_rls == []


def test_security_definer_functions_pin_an_empty_search_path(
    conn: psycopg.Connection[tuple[object, ...]],
) -> None:
    loose = conn.execute(
        "select p.proname from pg_proc p join pg_namespace n on n.oid = p.pronamespace"
        " where n.nspname = 'public' and p.prosecdef"
        " and not coalesce(p.proconfig @> array['search_path=\"\"'], false)"
    ).fetchall()

    assert loose == []


@pytest.mark.parametrize("role", ["anon", "authenticated"])
def test_call_stream_tokens_are_out_of_reach_of_api_roles(
    conn: psycopg.Connection[tuple[object, ...]], role: str
) -> None:
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        _as_role(conn, role, sql.SQL("select * from private.tokens_llamada"))
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        _as_role(conn, role, sql.SQL("select public.consumir_token_llamada('CA1', 'x')"))
