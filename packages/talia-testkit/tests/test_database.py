"""The session database the plugin provides."""

import psycopg
from psycopg_pool import AsyncConnectionPool


def test_database_is_migrated_into_the_supabase_ledger(database_url: str) -> None:
    with psycopg.connect(database_url) as conn:
        row = conn.execute("select to_regclass('supabase_migrations.schema_migrations')").fetchone()

    assert row == ("supabase_migrations.schema_migrations",)


async def test_pool_prepares_repeated_queries_as_a_direct_connection_does(
    db_pool: AsyncConnectionPool,
) -> None:
    async with db_pool.connection() as conn:
        for _ in range(10):
            await conn.execute("select %s::int", (1,))
        cursor = await conn.execute(
            "select count(*) from pg_prepared_statements where statement = 'select $1::int'"
        )
        row = await cursor.fetchone()

    assert row == (1,)
