"""What the model costs the customer's wait: replies by outcome, and how long they take."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

# A reply streams for seconds; the HTTP buckets stop too early for it.
REPLY_BUCKETS = (0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 8.0, 13.0, 20.0, 30.0, 60.0)


class ModelMetrics:
    """Replies of the text engine by channel and outcome (`answered`, `fallback`).

    Without a registry the figures are kept but not served (tests, benchmarks).
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        registry = registry or CollectorRegistry()
        self.replies = Counter(
            "talia_model_replies",
            "Assistant replies by channel and outcome: answered by the model, or the"
            " profile's fallback text when the model failed.",
            ["channel", "outcome"],
            registry=registry,
        )
        self.seconds = Histogram(
            "talia_model_reply_seconds",
            "Time from the first model request to the whole reply, by channel and outcome.",
            ["channel", "outcome"],
            buckets=REPLY_BUCKETS,
            registry=registry,
        )

    def reply(self, *, channel: str, outcome: str, seconds: float) -> None:
        """Count one reply."""
        self.replies.labels(channel, outcome).inc()
        self.seconds.labels(channel, outcome).observe(seconds)
