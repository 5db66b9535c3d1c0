"""`talia staff add|list|disable` against the test database, as operators run them."""

import uuid
from collections.abc import Iterator

import psycopg
import pytest

from talia.cli import main


@pytest.fixture(autouse=True)
def use_test_database(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)


@pytest.fixture
def auth_users(database_url: str) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    """Supabase Auth's own table, as a Supabase database has it (ids and emails)."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("create table auth.users (id uuid primary key, email text)")
        try:
            yield conn
        finally:
            conn.execute("drop table auth.users")


def test_add_finds_the_auth_user_by_email_then_list_and_disable(
    auth_users: psycopg.Connection[tuple[object, ...]], capsys: pytest.CaptureFixture[str]
) -> None:
    user = uuid.uuid4()
    auth_users.execute("insert into auth.users values (%s, 'Ana@Example.com')", (user,))

    main(["staff", "add", "ana@example.com", "--name", "Ana", "--role", "admin"])
    main(["staff", "list"])
    main(["staff", "disable", "ana@example.com"])
    main(["staff", "list"])

    assert capsys.readouterr().out.splitlines() == [
        "added ana@example.com as admin",
        "ana@example.com  admin  active    Ana",
        "disabled ana@example.com",
        "ana@example.com  admin  disabled  Ana",
    ]
    row = auth_users.execute("select auth_user_id from public.agentes").fetchone()
    assert row == (user,)


def test_add_with_an_id_needs_no_auth_table_and_updates_on_a_second_run(
    capsys: pytest.CaptureFixture[str],
) -> None:
    user = str(uuid.uuid4())

    main(["staff", "add", "luis@example.com", "--name", "Luis", "--id", user])
    main(["staff", "add", "luis@example.com", "--name", "Luis P.", "--id", user])

    assert capsys.readouterr().out.splitlines() == [
        "added luis@example.com as agent",
        "updated luis@example.com as agent",
    ]


def test_someone_without_an_auth_user_is_refused_in_one_line() -> None:
    with pytest.raises(SystemExit) as refused:
        main(["staff", "add", "nadie@example.com", "--name", "Nadie"])

    assert "no Supabase Auth user has the email nadie@example.com" in str(refused.value)


def test_an_email_another_staff_member_has_is_refused_in_one_line() -> None:
    main(["staff", "add", "eva@example.com", "--name", "Eva", "--id", str(uuid.uuid4())])

    with pytest.raises(SystemExit) as refused:
        main(["staff", "add", "EVA@example.com", "--name", "Otra", "--id", str(uuid.uuid4())])

    assert str(refused.value) == "talia: another staff member has that email"


def test_disabling_someone_unknown_says_so() -> None:
    with pytest.raises(SystemExit) as refused:
        main(["staff", "disable", "nadie@example.com"])

    assert str(refused.value) == "talia: no staff member has the email nadie@example.com"
