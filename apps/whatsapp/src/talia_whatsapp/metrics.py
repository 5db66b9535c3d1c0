"""What an operator watches of WhatsApp replies: the queue, the jobs, the deliveries."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

from talia_core.ai.metrics import ModelMetrics
from talia_whatsapp.queue import QueueState

NO_ERROR = "none"


class ReplyMetrics:
    """The reply queue and deliveries, on an app's registry.

    The queue's figures are the whole queue's, read from the database at each scrape, so
    every replica reports the same; job outcomes and deliveries are this process's own.
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        self.model = ModelMetrics(registry)
        self.jobs = Gauge(
            "talia_reply_jobs",
            "Reply jobs in the queue, by status (todo, doing), across every process.",
            ["status"],
            registry=registry,
        )
        self.oldest_due = Gauge(
            "talia_reply_job_oldest_due_seconds",
            "How long the oldest reply job past its start time has waited for a worker.",
            registry=registry,
        )
        self.worker_working = Gauge(
            "talia_reply_worker_working",
            "1 while this process's reply worker works; 0 while it waits for the database, or"
            " when this process runs no worker.",
            registry=registry,
        )
        self.finished = Counter(
            "talia_reply_jobs_finished",
            "Reply jobs this process ran, by outcome (succeeded, retried, failed).",
            ["outcome"],
            registry=registry,
        )
        self.deliveries = Counter(
            "talia_whatsapp_deliveries",
            "WhatsApp replies by delivery status and Twilio error code (none: no error).",
            ["status", "error_code"],
            registry=registry,
        )

    def queue(self, state: QueueState) -> None:
        """Record a reading of the queue."""
        self.jobs.labels("todo").set(state.waiting)
        self.jobs.labels("doing").set(state.running)
        self.oldest_due.set(state.oldest_due_seconds)

    def delivery(self, status: str, error_code: str | None = None) -> None:
        """Count one delivery outcome: accepted by Twilio, a status callback, a failure."""
        self.deliveries.labels(status, error_code or NO_ERROR).inc()
