"""The reply queue: procrastinate on the app's Postgres, its task, and the worker that runs it.

Jobs are queued by the webhook's SQL (`recibir_whatsapp`), not from Python, so a
message and its job commit together. A worker that dies leaves its job `doing`; any live
worker runs it again once the dead worker's heartbeat is older than `stalled_after_seconds`.

Procrastinate's worker stops at the first database error; `ReplyWorker` starts it again once
the database answers, however long that takes, and fails for good on anything else.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Awaitable
from typing import Final, Protocol
from uuid import UUID

import procrastinate
import structlog
from procrastinate import JobContext, PsycopgConnector, RetryStrategy

from talia_core.db import RECONNECT_SECONDS, is_unreachable
from talia_core.queues import REPLY_QUEUE, REPLY_TASK
from talia_whatsapp.config import Settings
from talia_whatsapp.metrics import ReplyMetrics

log = structlog.stdlib.get_logger("talia.whatsapp.jobs")


class Answer(Protocol):
    """What a reply job does for one conversation."""

    def __call__(self, conversacion_id: UUID, *, last_attempt: bool) -> Awaitable[None]: ...


# Waits between restarts of a worker that lost the database: doubling, capped, jittered.
FIRST_RESTART_SECONDS: Final = 0.5
LONGEST_RESTART_SECONDS: Final = 15.0


def _lost_the_database(exc: BaseException) -> bool:
    """Whether `exc`, or what procrastinate wrapped in it, says the database is unreachable."""
    seen: BaseException | None = exc
    while seen is not None:
        if is_unreachable(seen):
            return True
        seen = seen.__cause__
    return False


def create_job_app(settings: Settings, answer: Answer, metrics: ReplyMetrics) -> procrastinate.App:
    """A procrastinate app whose reply task calls `answer(conversation id, last_attempt=...)`."""
    connector = PsycopgConnector(
        conninfo=settings.database.database_url.get_secret_value(),
        min_size=1,
        max_size=settings.whatsapp.worker_concurrency + 2,
        # Fail a fetch soon when the database is gone, and keep no long reconnection sleep
        # that could outlast its return (see talia_core.db).
        timeout=settings.database.checkout_timeout_seconds,
        reconnect_timeout=RECONNECT_SECONDS,
    )
    app = procrastinate.App(connector=connector)

    max_attempts = settings.whatsapp.max_attempts

    @app.task(
        name=REPLY_TASK,
        queue=REPLY_QUEUE,
        retry=RetryStrategy(max_attempts=max_attempts, exponential_wait=2),
        pass_context=True,
    )
    async def reply(context: JobContext, conversacion_id: str) -> None:
        # Procrastinate counts earlier attempts; past `max_attempts` it retries no more.
        last_attempt = context.job.attempts >= max_attempts
        try:
            await answer(UUID(conversacion_id), last_attempt=last_attempt)
        except Exception:
            metrics.finished.labels("failed" if last_attempt else "retried").inc()
            raise
        metrics.finished.labels("succeeded").inc()

    return app


class ReplyWorker:
    """Runs reply jobs until cancelled, and re-queues jobs of workers that died."""

    def __init__(self, app: procrastinate.App, settings: Settings) -> None:
        self._app = app
        self._settings = settings.whatsapp
        self._grace = settings.app.shutdown_grace_seconds
        self._working = False

    @property
    def working(self) -> bool:
        """False while the worker waits for the database to come back (readiness)."""
        return self._working

    async def run(self) -> None:
        """Work until cancelled; a cancel lets running jobs finish within the grace period.

        A worker that lost the database starts again, with backoff, until it can work;
        any other failure is raised: the process should end and be restarted.
        """
        sweeper = asyncio.create_task(self._requeue_stalled(), name="stalled-jobs")
        wait = FIRST_RESTART_SECONDS
        try:
            while True:
                started = time.monotonic()
                self._working = True
                try:
                    await self._work()
                except Exception as exc:
                    if not _lost_the_database(exc):
                        raise
                    error = type(exc.__cause__ or exc).__name__
                else:
                    error = "stopped"  # a side task (heartbeat, listener) lost the database
                self._working = False
                if time.monotonic() - started > LONGEST_RESTART_SECONDS:
                    wait = FIRST_RESTART_SECONDS  # it had worked: a new outage
                delay = wait * random.uniform(0.5, 1.0)  # noqa: S311  # jitter, not a secret
                log.warning("reply_worker_restarting", error=error, in_seconds=round(delay, 2))
                await asyncio.sleep(delay)
                wait = min(wait * 2, LONGEST_RESTART_SECONDS)
        finally:
            self._working = False
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper

    async def _work(self) -> None:
        await self._app.run_worker_async(
            queues=[REPLY_QUEUE],
            concurrency=self._settings.worker_concurrency,
            fetch_job_polling_interval=self._settings.poll_seconds,
            install_signal_handlers=False,
            update_heartbeat_interval=self._settings.heartbeat_seconds,
            stalled_worker_timeout=self._settings.stalled_after_seconds,
            shutdown_graceful_timeout=self._grace,
        )

    async def _requeue_stalled(self) -> None:
        interval = max(self._settings.stalled_after_seconds / 3, 0.5)
        while True:
            try:
                await self.requeue_stalled()
            except Exception as exc:  # the sweep must outlive a database blip
                log.warning("stalled_jobs_check_failed", error=type(exc).__name__)
            await asyncio.sleep(interval)

    async def requeue_stalled(self) -> int:
        """Put jobs left `doing` by dead workers back in the queue; returns how many."""
        stalled = await self._app.job_manager.get_stalled_jobs(
            queue=REPLY_QUEUE, seconds_since_heartbeat=self._settings.stalled_after_seconds
        )
        count = 0
        for job in stalled:
            await self._app.job_manager.retry_job(job)
            count += 1
        if count:
            log.warning("stalled_jobs_requeued", count=count)
        return count
