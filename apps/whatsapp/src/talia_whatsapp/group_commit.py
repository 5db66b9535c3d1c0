"""Group commit: concurrent writes of the same kind share one database call.

One writer task writes a batch at a time. A write waits only while the batch before it is
being written: alone, it goes at once; under load, everything that arrived in the meantime
goes in the next call. That call is one round trip and one transaction for all of them,
which is what a webhook pays most for. One batch at a time makes the batches as large as
the load allows; a second writer measured slower (bench/whatsapp_webhook.py): the batches
shrank to one to three messages, and most of what a write costs the app is per call.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Awaitable, Callable, Sequence
from typing import Final, Generic, TypeVar

import structlog

T = TypeVar("T")
R = TypeVar("R")

MAX_BATCH: Final = 64

log = structlog.stdlib.get_logger("talia.whatsapp.group_commit")


class GroupCommit(Generic[T, R]):
    """Writes items through `write_many` in batches, or `write_one` when there is one.

    A failed batch is written again item by item, so each caller gets its own result or its
    own error and a bad item never fails the others; unless `fail_together` says the error
    would fail each of them too (the database cannot be reached): then every caller gets it
    at once. `write_many` must be all or nothing and return one result per item, in order.
    """

    def __init__(
        self,
        write_one: Callable[[T], Awaitable[R]],
        write_many: Callable[[Sequence[T]], Awaitable[Sequence[R]]],
        *,
        fail_together: Callable[[Exception], bool] = lambda _: False,
    ) -> None:
        self._write_one = write_one
        self._write_many = write_many
        self._fail_together = fail_together
        self._waiting: list[tuple[T, asyncio.Future[R]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def write(self, item: T) -> R:
        """Write `item` with whatever else is waiting; its own result or error."""
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        if self._writer is None or self._writer.done():
            # A fresh context: the writer serves many requests, not the log context of this one.
            self._writer = asyncio.create_task(
                self._drain(), name="group-commit", context=contextvars.Context()
            )
        # The write runs in a task of its own: a caller that goes away (the webhook's client
        # hung up) cancels its wait, not the write it handed over.
        return await future

    async def wait_idle(self) -> None:
        """Return once every write handed over so far has finished."""
        while self._writer is not None and not self._writer.done():
            await asyncio.wait([self._writer])

    async def _drain(self) -> None:
        while self._waiting:
            batch = self._waiting[:MAX_BATCH]
            del self._waiting[:MAX_BATCH]
            if len(batch) == 1:
                await self._alone(*batch[0])
            else:
                await self._together(batch)

    async def _together(self, batch: list[tuple[T, asyncio.Future[R]]]) -> None:
        try:
            results = await self._write_many([item for item, _ in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"{len(batch)} items written, {len(results)} results")
        except Exception as exc:  # each caller gets its own result or error
            if self._fail_together(exc):
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                return
            # The type only: an error's text may quote the values written.
            log.warning("batch_written_one_by_one", size=len(batch), error=type(exc).__name__)
            await asyncio.gather(*(self._alone(item, future) for item, future in batch))
            return
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)

    async def _alone(self, item: T, future: asyncio.Future[R]) -> None:
        try:
            result = await self._write_one(item)
        except Exception as exc:  # handed to the caller, who raises it
            if not future.done():
                future.set_exception(exc)
            return
        if not future.done():
            future.set_result(result)
