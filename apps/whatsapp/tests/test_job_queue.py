"""The reply job the webhook's SQL queues is a job procrastinate itself would queue.

The SQL writes procrastinate's tables directly (see talia_whatsapp.queue); these tests read
the result back through procrastinate's own API and fail on an upgrade that changes it.
"""

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from uuid import UUID, uuid4

import attrs
import procrastinate
import pytest
from procrastinate.exceptions import AlreadyEnqueued
from procrastinate.jobs import Job
from prometheus_client import CollectorRegistry
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from talia_core.queues import REPLY_QUEUE, REPLY_TASK
from talia_testkit.settings import TEST_WHATSAPP_FROM
from talia_whatsapp.inbound import InboundWriter
from talia_whatsapp.jobs import create_job_app
from talia_whatsapp.metrics import ReplyMetrics
from talia_whatsapp.queue import queue_state, reply_lock
from talia_whatsapp.schemas import InboundMessage

from .whatsapp_kit import save_profile, whatsapp_settings


async def _no_answer(conversacion_id: UUID, *, last_attempt: bool) -> None:
    raise AssertionError("no job runs in these tests")


@pytest.fixture
async def jobs(database_url: str) -> AsyncIterator[procrastinate.App]:
    settings = whatsapp_settings(database_url, "http://127.0.0.1:9", "http://127.0.0.1:9")
    app = create_job_app(settings, _no_answer, ReplyMetrics(CollectorRegistry()))
    async with app.open_async():
        yield app


async def _message_from(store: InboundWriter, sender: str) -> UUID:
    recorded = await store.record(
        InboundMessage(
            message_sid="SM" + sender[-9:].rjust(32, "0"),
            sender=sender,
            to=TEST_WHATSAPP_FROM,
            body="hola",
            media=(),
            profile_name=None,
            metadata={},
        ),
        assistant="default",
        debounce_ms=60_000,  # the job waits: nothing runs it here
    )
    assert recorded.encolado
    return recorded.conversacion_id


async def test_the_webhook_queues_what_procrastinate_reads_as_its_own_job(
    database_url: str, db_pool: AsyncConnectionPool, jobs: procrastinate.App
) -> None:
    save_profile(database_url)
    before = datetime.now(UTC)
    conversation = await _message_from(InboundWriter(db_pool), "whatsapp:+34600000001")

    [job] = await jobs.job_manager.list_jobs_async(queue=REPLY_QUEUE)

    assert (job.task_name, job.queue, job.status) == (REPLY_TASK, REPLY_QUEUE, "todo")
    assert job.lock == job.queueing_lock == reply_lock(conversation)
    assert job.task_kwargs == {"conversacion_id": str(conversation)}
    assert (job.priority, job.attempts, job.abort_requested) == (0, 0, False)
    assert job.scheduled_at is not None
    assert 59 <= (job.scheduled_at - before).total_seconds() <= 61
    # The task procrastinate would run for it is the reply task.
    assert jobs.tasks[job.task_name].queue == REPLY_QUEUE


async def test_a_second_job_for_the_conversation_is_refused_as_procrastinate_refuses_it(
    database_url: str, db_pool: AsyncConnectionPool, jobs: procrastinate.App
) -> None:
    save_profile(database_url)
    store = InboundWriter(db_pool)
    conversation = await _message_from(store, "whatsapp:+34600000002")
    task = jobs.tasks[REPLY_TASK]

    with pytest.raises(AlreadyEnqueued):
        await task.configure(
            lock=reply_lock(conversation), queueing_lock=reply_lock(conversation)
        ).defer_async(conversacion_id=str(conversation))

    # A job procrastinate defers itself differs from ours only where the two jobs must.
    other = uuid4()
    await task.configure(lock=reply_lock(other), queueing_lock=reply_lock(other)).defer_async(
        conversacion_id=str(other)
    )
    ours, theirs = sorted(await jobs.job_manager.list_jobs_async(queue=REPLY_QUEUE), key=_id)
    differing = {"id", "lock", "queueing_lock", "task_kwargs", "scheduled_at"}
    assert _fields(ours, differing) == _fields(theirs, differing)
    assert ours.task_kwargs.keys() == theirs.task_kwargs.keys()
    state = await queue_state(db_pool)
    assert (state.waiting, state.running) == (2, 0)


def _id(job: Job) -> int:
    return job.id or 0


def _fields(job: Job, leaving_out: set[str]) -> dict[str, object]:
    return {k: v for k, v in attrs.asdict(job).items() if k not in leaving_out}


_ONE_MESSAGE = (
    "select * from public.registrar_entrante_whatsapp(%s, 'default', %s, 'hola', 'text',"
    " null, null, '{}'::jsonb, %s, %s, 60000)",
    ("whatsapp:+34600000003", "SM" + "3".rjust(32, "0"), REPLY_TASK, REPLY_QUEUE),
)
_BATCH = (
    "select * from public.registrar_entrantes_whatsapp(%s, %s, %s)",
    (
        Jsonb([{"orden": 0, "identidad": "whatsapp:+34600000004", "asistente": "default",
                "message_sid": "SM" + "4".rjust(32, "0"), "contenido": "hola", "tipo": "text",
                "media": None, "nombre": None, "metadata": {}, "espera_ms": 60000,
                "encolar": True}]),
        REPLY_TASK,
        REPLY_QUEUE,
    ),
)  # fmt: skip
_RECORDED = [
    "mensaje_id",
    "conversacion_id",
    "contacto_id",
    "repetido",
    "estado_conversacion",
    "opt_out",
    "encolado",
]


@pytest.mark.parametrize(
    ("call", "columns"),
    [(_ONE_MESSAGE, _RECORDED), (_BATCH, ["orden", *_RECORDED])],
    ids=["one message (before 2026-11-30)", "a batch (before 2026-12-01)"],
)
async def test_replicas_of_earlier_releases_still_record_and_queue(
    database_url: str,
    db_pool: AsyncConnectionPool,
    jobs: procrastinate.App,
    call: tuple[str, tuple[object, ...]],
    columns: list[str],
) -> None:
    # During a rolling deploy, replicas started before the migration call the functions
    # they know: each must keep its columns and still queue the reply job.
    save_profile(database_url)
    async with db_pool.connection() as conn:
        cursor = await conn.execute(*call)
        returned = [column.name for column in cursor.description or []]
        row = await cursor.fetchone()

    assert returned == columns
    assert row is not None
    recorded = dict(zip(returned, row, strict=True))
    assert [recorded[name] for name in columns[-4:]] == [False, "open", False, True]
    [job] = await jobs.job_manager.list_jobs_async(queue=REPLY_QUEUE)
    assert job.queueing_lock == reply_lock(recorded["conversacion_id"])
