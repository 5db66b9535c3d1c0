"""Fixtures for apps/console/tests."""

from collections.abc import Iterator

import pytest

from .console_kit import Console, running_console


@pytest.fixture
def console(database_url: str) -> Iterator[Console]:
    """The console app over a fake Supabase project, on the test database."""
    with running_console(database_url) as running:
        yield running
