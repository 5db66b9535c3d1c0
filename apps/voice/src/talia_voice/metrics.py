"""What an operator watches of phone calls: how many are live, and how they ended."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge


class CallMetrics:
    """Live calls (read when scraped) and ended calls by reason, for this process."""

    def __init__(self, registry: CollectorRegistry, *, live_calls: Callable[[], int]) -> None:
        Gauge(
            "talia_voice_live_calls", "Calls bridged in this process now.", registry=registry
        ).set_function(live_calls)
        self.ended = Counter(
            "talia_voice_calls_ended",
            "Bridged calls by how they ended (caller hung up, silence, transferred, ...).",
            ["reason"],
            registry=registry,
        )
