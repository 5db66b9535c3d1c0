"""Backoff: what a caller says is safe to repeat is retried, and nothing else."""

import time

import pytest

from talia_core.retries import Backoff

QUICK = Backoff(attempts=3, first_wait=0.01, longest_wait=0.05)


class Blip(Exception):
    pass


class Refused(Exception):
    pass


class Flaky:
    """Fails with each of `failures` in turn, then answers."""

    def __init__(self, *failures: Exception) -> None:
        self.failures = list(failures)
        self.calls = 0

    async def __call__(self, value: str) -> str:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return value


def _blip(exc: BaseException) -> bool:
    return isinstance(exc, Blip)


async def test_a_blip_is_retried_until_the_call_answers() -> None:
    flaky = Flaky(Blip(), Blip())

    started = time.monotonic()
    assert await QUICK.call(_blip, "probe", flaky, "ok") == "ok"

    assert flaky.calls == 3
    assert time.monotonic() - started >= 0.01 + 0.02  # it waited between tries


async def test_the_last_failure_is_raised_once_the_attempts_are_spent() -> None:
    flaky = Flaky(Blip("1"), Blip("2"), Blip("3"), Blip("4"))

    with pytest.raises(Blip, match=r"^3$"):
        await QUICK.call(_blip, "probe", flaky, "ok")

    assert flaky.calls == 3


async def test_a_failure_not_safe_to_repeat_is_raised_at_once() -> None:
    flaky = Flaky(Refused("no"))

    with pytest.raises(Refused):
        await QUICK.call(_blip, "probe", flaky, "ok")

    assert flaky.calls == 1
