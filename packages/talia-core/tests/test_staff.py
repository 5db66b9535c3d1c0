"""Staff rows (`agentes`): added, updated, disabled, and refused when they clash."""

import uuid
from collections.abc import Iterator

import psycopg
import pytest


@pytest.fixture
def conn(database_url: str) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    with psycopg.connect(database_url, autocommit=True) as connection:
        yield connection


def _staff(conn: psycopg.Connection[tuple[object, ...]], user: uuid.UUID) -> tuple[object, ...]:
    row = conn.execute(
        "select email, nombre, rol, activo from public.agentes where auth_user_id = %s", (user,)
    ).fetchone()
    assert row is not None
    return row


def test_adding_someone_again_updates_and_reactivates_them(
    conn: psycopg.Connection[tuple[object, ...]],
) -> None:
    user = uuid.uuid4()
    first = conn.execute(
        "select public.guardar_agente(%s, 'Ana@Example.com', 'Ana', 'agent')", (user,)
    ).fetchone()
    disabled = conn.execute("select public.desactivar_agente('ana@example.com')").fetchone()
    again = conn.execute(
        "select public.guardar_agente(%s, 'ana@example.com', 'Ana López', 'admin')", (user,)
    ).fetchone()

    assert (first, disabled, again) == ((True,), (True,), (False,))
    assert _staff(conn, user) == ("ana@example.com", "Ana López", "admin", True)


def test_disabling_someone_unknown_changes_nothing(
    conn: psycopg.Connection[tuple[object, ...]],
) -> None:
    assert conn.execute("select public.desactivar_agente('nadie@example.com')").fetchone() == (
        False,
    )


def test_a_second_person_with_the_same_email_is_a_conflict(
    conn: psycopg.Connection[tuple[object, ...]],
) -> None:
    conn.execute(
        "select public.guardar_agente(%s, 'luis@example.com', 'Luis', 'agent')", (uuid.uuid4(),)
    )

    with pytest.raises(psycopg.Error) as refused:
        conn.execute(
            "select public.guardar_agente(%s, 'LUIS@example.com', 'Otro', 'agent')",
            (uuid.uuid4(),),
        )

    assert refused.value.sqlstate == "TA409"


@pytest.mark.parametrize(
    ("email", "name", "role"),
    [("", "Ana", "agent"), ("ana@example.com", "", "agent"), ("ana@example.com", "Ana", "root")],
)
def test_an_incomplete_staff_member_is_refused(
    conn: psycopg.Connection[tuple[object, ...]], email: str, name: str, role: str
) -> None:
    with pytest.raises(psycopg.Error) as refused:
        conn.execute(
            "select public.guardar_agente(%s, %s, %s, %s)", (uuid.uuid4(), email, name, role)
        )

    assert refused.value.sqlstate == "TA400"
