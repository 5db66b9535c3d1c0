"""Connection options: prepared statements where the server keeps them, none behind Supavisor."""

from __future__ import annotations

import pytest
from psycopg_pool import AsyncConnectionPool

from talia_core.config import DatabaseSettings
from talia_core.db import behind_transaction_pooler, connection_options, create_pool
from talia_core.repositories.mensajes import MensajesRepository

SUPAVISOR_TRANSACTION = (
    "postgresql://postgres.ref:pw@aws-0-eu-west-1.pooler.supabase.com:6543/postgres"
)
SUPAVISOR_SESSION = "postgresql://postgres.ref:pw@aws-0-eu-west-1.pooler.supabase.com:5432/postgres"
DIRECT = "postgresql://postgres:pw@db.ref.supabase.co/postgres"


@pytest.mark.parametrize(
    ("url", "pooled"),
    [
        (SUPAVISOR_TRANSACTION, True),
        (SUPAVISOR_SESSION, False),
        (DIRECT, False),
        ("postgresql://talia@/talia?host=/tmp/pg&port=6543", True),
        ("postgresql://talia@h1:5432,h2:6543/talia", True),
    ],
)
def test_the_transaction_pooler_is_told_by_its_port(url: str, pooled: bool) -> None:
    assert behind_transaction_pooler(url) is pooled


def test_pgport_counts_when_the_url_names_no_port(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGPORT", "6543")
    assert behind_transaction_pooler(DIRECT)
    assert not behind_transaction_pooler(SUPAVISOR_SESSION)


@pytest.mark.parametrize(
    ("url", "setting", "threshold"),
    [
        (SUPAVISOR_TRANSACTION, None, None),
        (SUPAVISOR_SESSION, None, 5),
        (DIRECT, None, 5),
        (DIRECT, False, None),
        (SUPAVISOR_TRANSACTION, True, 5),
    ],
)
def test_pools_prepare_statements_unless_the_pooler_forbids_it(
    monkeypatch: pytest.MonkeyPatch, url: str, setting: bool | None, threshold: int | None
) -> None:
    monkeypatch.setenv("DATABASE_URL", url)
    if setting is not None:
        monkeypatch.setenv("TALIA_DB_PREPARED_STATEMENTS", str(setting).lower())

    pool = create_pool(DatabaseSettings())  # built, never opened: nothing connects

    assert isinstance(pool.kwargs, dict)
    assert pool.kwargs["prepare_threshold"] == threshold
    assert pool.kwargs["autocommit"] is True


@pytest.mark.parametrize("prepared", [True, False])
async def test_repeated_writes_leave_named_statements_only_when_allowed(
    database_url: str, prepared: bool
) -> None:
    options = connection_options(database_url, prepared_statements=prepared)
    async with AsyncConnectionPool(database_url, min_size=1, max_size=1, kwargs=options) as pool:
        mensajes = MensajesRepository(pool)
        for n in range(8):
            recorded = await mensajes.record_inbound(
                canal="whatsapp",
                identidad="whatsapp:+34600000001",
                asistente="tienda",
                proveedor_id=f"SM-prepared-{n}",
                contenido=f"mensaje {n}",
            )
            assert not recorded.repetido
        async with pool.connection() as conn:
            cursor = await conn.execute(
                "select count(*) from pg_prepared_statements"
                " where statement like '%registrar_mensaje_entrante%'"
            )
            row = await cursor.fetchone()

    # Behind Supavisor's transaction mode a named statement would be missing on the next
    # server connection; elsewhere the write is parsed and planned once per connection.
    assert row == (1 if prepared else 0,)
