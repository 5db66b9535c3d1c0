"""What the fake model does next, and what it was sent."""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ToolCall:
    """The model calls a function tool with these arguments."""

    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class Turn:
    """One scripted answer to one request.

    `text` is streamed in `deltas` pieces; `tool_call` makes a function call instead;
    `status` answers an HTTP error (429, 500...); `drop_after` closes the connection after
    that many deltas; `fail_after` sends `response.failed` after that many deltas; `delay`
    waits before the first byte, `delta_delay` between deltas.
    """

    text: str | None = None
    tool_call: ToolCall | None = None
    status: int | None = None
    deltas: int = 3
    delay: float = 0.0
    delta_delay: float = 0.0
    drop_after: int | None = None
    fail_after: int | None = None


@dataclass(frozen=True)
class Recorded:
    """A request the fake received."""

    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    # `time.perf_counter()` when the request reached the fake (its body not yet read).
    arrived_at: float = 0.0


@dataclass
class Script:
    """Thread-safe turn queue and request log (the server runs in another thread)."""

    turns: deque[Turn] = field(default_factory=deque)
    transcripts: deque[str] = field(default_factory=deque)
    recorded: list[Recorded] = field(default_factory=list)
    conversations: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # Per streamed response: `time.perf_counter()` when its first and last delta were sent.
    delta_marks: list[tuple[float, float]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_turn(self, default: Turn) -> Turn:
        with self.lock:
            return self.turns.popleft() if self.turns else default

    def next_transcript(self, default: str) -> str:
        with self.lock:
            return self.transcripts.popleft() if self.transcripts else default

    def record(self, request: Recorded) -> None:
        with self.lock:
            self.recorded.append(request)
