"""Work through the due rows of a table that serves as a queue (webhook deliveries, owed
deletions): claim a batch, handle each, again; when none is due, wait for a wake-up or the
poll interval. Claims lapse, so a row a dead process held is claimed again later."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

import psycopg
import structlog

log = structlog.stdlib.get_logger("talia.console.due_work")

Row = TypeVar("Row")


class DueWork(Generic[Row]):
    """Claims due rows with `claim` and hands each to `handle`, concurrently, until cancelled."""

    def __init__(
        self,
        name: str,
        *,
        claim: Callable[[], Awaitable[Sequence[Row]]],
        handle: Callable[[Row], Awaitable[None]],
        poll_seconds: float,
    ) -> None:
        self._name = name
        self._claim = claim
        self._handle = handle
        self._poll_seconds = poll_seconds
        self._woken = asyncio.Event()

    def wake(self) -> None:
        """Look for due rows now (new ones were written)."""
        self._woken.set()

    async def run(self) -> None:
        while True:
            try:
                due = await self._claim()
            except psycopg.Error as exc:
                log.warning("due_work_claim_failed", work=self._name, error=type(exc).__name__)
                due = []
            if due:
                outcomes = await asyncio.gather(
                    *(self._handle(row) for row in due), return_exceptions=True
                )
                for outcome in outcomes:
                    if isinstance(outcome, Exception):  # its claim lapses: it comes again
                        log.error("due_work_crashed", work=self._name, error=type(outcome).__name__)
                continue
            self._woken.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._poll_seconds):
                    await self._woken.wait()
