"""The fake model in a process of its own, for benchmarks that time it against a client.

In the client's process the fake's server thread shares the interpreter lock: while it
writes a streamed response, the client's thread waits up to a switch interval (5 ms) to read
what arrived, and that wait shows up as latency the app never added. Here the fake answers
from another process; `time.perf_counter()` is the machine's monotonic clock, so the times it
records compare with the client's.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from talia_testkit.fake_openai.script import Turn
from talia_testkit.fake_openai.server import run_fake_openai


@dataclass
class FakeOpenAIProcess:
    """A handle on the fake running in a child process (one caller at a time)."""

    base_url: str
    _pipe: Connection

    def _ask(self, command: str, *args: Any) -> Any:
        self._pipe.send((command, args))
        return self._pipe.recv()

    def add_turns(self, *turns: Turn) -> None:
        """Queue what the next requests get, in order."""
        self._ask("add_turns", *turns)

    def arrivals(self, path: str) -> list[float]:
        """When each request to `path` arrived, in order (`time.perf_counter()`)."""
        times: list[float] = self._ask("arrivals", path)
        return times

    def delta_marks(self) -> list[tuple[float, float]]:
        """Per streamed response, when its first and last delta were sent."""
        marks: list[tuple[float, float]] = self._ask("delta_marks")
        return marks


def _serve(pipe: Connection) -> None:
    with run_fake_openai() as fake:
        pipe.send(fake.base_url)
        while True:
            try:
                command, args = pipe.recv()
            except EOFError:
                return
            if command == "add_turns":
                fake.add_turns(*args)
                pipe.send(None)
            elif command == "arrivals":
                pipe.send([request.arrived_at for request in fake.requests(*args)])
            elif command == "delta_marks":
                with fake.script.lock:
                    pipe.send(list(fake.script.delta_marks))


@contextmanager
def run_fake_openai_process() -> Iterator[FakeOpenAIProcess]:
    """Serve the fake from a child process on an ephemeral localhost port until the block ends."""
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    child = context.Process(target=_serve, args=(theirs,), daemon=True)
    child.start()
    try:
        if not ours.poll(60):
            raise RuntimeError("the fake model's process did not start")
        yield FakeOpenAIProcess(ours.recv(), ours)
    finally:
        ours.close()
        child.join(10)
        if child.is_alive():
            child.kill()
