"""pytest plugin (entry point `talia`): database and signing fixtures for every package."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from psycopg_pool import AsyncConnectionPool

from talia_core.db import connection_options
from talia_testkit.database import RestartableDatabase, test_database, truncate_all
from talia_testkit.fake_openai import FakeOpenAI, run_fake_openai
from talia_testkit.fake_twilio import FakeTwilio, run_fake_twilio
from talia_testkit.signing import TwilioSigner

TEST_AUTH_TOKEN = "12345678901234567890123456789012"
TEST_ACCOUNT_SID = "AC" + "0" * 32


@pytest.fixture(scope="session")
def migrated_database_url() -> Iterator[str]:
    """The session's migrated database; tests use `database_url`, which cleans up."""
    with test_database() as url:
        yield url


@pytest.fixture
def database_url(migrated_database_url: str) -> Iterator[str]:
    """A database URL whose public tables are emptied after the test."""
    yield migrated_database_url
    truncate_all(migrated_database_url)


@pytest.fixture
def restartable_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RestartableDatabase]:
    """A migrated database of the test's own, to stop and start inside the test."""
    # A short path: the server's Unix socket lives in its data directory.
    database = RestartableDatabase(tmp_path_factory.mktemp("pg") / "data")
    try:
        yield database
    finally:
        if database.running:
            database.stop()


@pytest.fixture
async def db_pool(database_url: str) -> AsyncIterator[AsyncConnectionPool]:
    """An open pool configured as the apps configure theirs for this database."""
    pool = AsyncConnectionPool(
        database_url,
        min_size=1,
        max_size=10,
        kwargs=connection_options(database_url),
        open=False,
    )
    await pool.open(wait=True, timeout=10)
    try:
        yield pool
    finally:
        await pool.close()


@pytest.fixture
def twilio_signer() -> TwilioSigner:
    """Signs requests with the test auth token, through twilio's `RequestValidator`."""
    return TwilioSigner(TEST_AUTH_TOKEN)


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    """A fake OpenAI on localhost; point the SDK at `fake_openai.base_url`."""
    with run_fake_openai() as fake:
        yield fake


@pytest.fixture
def fake_twilio() -> Iterator[FakeTwilio]:
    """A fake Twilio REST API on localhost, for `TWILIO_API_BASE_URL`."""
    with run_fake_twilio(TEST_ACCOUNT_SID, TEST_AUTH_TOKEN) as fake:
        yield fake
