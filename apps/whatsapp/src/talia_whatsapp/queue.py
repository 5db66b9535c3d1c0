"""Where the reply queue touches procrastinate's schema, all of it.

A reply job is queued by the webhook's SQL, in the transaction that stores the message
(`recibir_whatsapp`, supabase/schemas/80_whatsapp_inbound.sql): it calls
procrastinate's `procrastinate_defer_jobs_v1` with the task and queue names of
`talia_core.queues` (a staff reply, `responder_como_agente`, queues the same job), and a
per-conversation queueing lock (`reply_lock`) so a burst of messages queues one job. Here,
the queue's state
is read from `procrastinate_jobs`. Everything else goes through procrastinate's Python API
(`jobs.py`). apps/whatsapp/tests/test_job_queue.py fails on a procrastinate upgrade that
changes any of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from psycopg_pool import AsyncConnectionPool

from talia_core.queues import REPLY_QUEUE
from talia_core.repositories.sql import fetch_row


def reply_lock(conversacion_id: UUID) -> str:
    """The queueing lock of a conversation's reply job (as the SQL writes it)."""
    return f"whatsapp-reply:{conversacion_id}"


@dataclass(frozen=True)
class QueueState:
    """The reply queue now: jobs waiting and running, and how long the oldest job past its
    start time has waited (0 when none has)."""

    waiting: int
    running: int
    oldest_due_seconds: float


async def queue_state(pool: AsyncConnectionPool) -> QueueState:
    """The reply queue, from procrastinate's job table (its active jobs only)."""
    return await fetch_row(
        pool,
        "select count(*) filter (where status = 'todo') as waiting,"
        " count(*) filter (where status = 'doing') as running,"
        " coalesce(extract(epoch from now() - min(scheduled_at)"
        "   filter (where status = 'todo' and scheduled_at <= now())), 0)::float8"
        "   as oldest_due_seconds"
        " from public.procrastinate_jobs"
        " where queue_name = %s and status in ('todo', 'doing')",
        (REPLY_QUEUE,),
        QueueState,
    )
