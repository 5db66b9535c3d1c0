"""Retries of calls that may fail for a moment: exponential backoff with jitter (tenacity).

Only what is safe to repeat is retried: each caller says which failures those are.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import ParamSpec, TypeVar

import structlog
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

log = structlog.stdlib.get_logger("talia.retries")

P = ParamSpec("P")
T = TypeVar("T")


@dataclass(frozen=True)
class Backoff:
    """Up to `attempts` tries; waits double from `first_wait` up to `longest_wait`, each
    with up to `first_wait` of random jitter, so many callers do not retry in step."""

    attempts: int
    first_wait: float
    longest_wait: float

    async def call(
        self,
        retry_on: Callable[[BaseException], bool],
        action: str,
        fn: Callable[P, Awaitable[T]],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """`await fn(*args, **kwargs)`, retried while it raises what `retry_on` accepts.

        The last failure is raised as it was. Each wait is logged as `{action}_retrying`.
        """
        retrying = AsyncRetrying(
            retry=retry_if_exception(retry_on),
            stop=stop_after_attempt(self.attempts),
            wait=wait_exponential_jitter(
                multiplier=self.first_wait, max=self.longest_wait, jitter=self.first_wait
            ),
            before_sleep=_log_wait(action),
            reraise=True,
        )
        return await retrying(fn, *args, **kwargs)


def _log_wait(action: str) -> Callable[[RetryCallState], None]:
    def before_sleep(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        log.info(
            f"{action}_retrying",
            attempt=state.attempt_number,
            error=type(error).__name__ if error else None,
            in_seconds=round(state.upcoming_sleep, 2),
        )

    return before_sleep
