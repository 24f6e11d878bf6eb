"""The token bucket, on a clock the test moves."""

from __future__ import annotations

import pytest

from orchestrator.channels.ratelimit import TokenBucket


class Clock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


async def test_a_burst_passes_then_sends_are_paced_at_the_rate() -> None:
    clock = Clock()
    bucket = TokenBucket(rate=2.0, burst=3, clock=clock, sleep=clock.sleep)
    waits = [await bucket.acquire() for _ in range(5)]
    assert waits[:3] == [0.0, 0.0, 0.0]
    assert waits[3:] == pytest.approx([0.5, 0.5])
    assert clock.now == pytest.approx(101.0)


async def test_idle_time_refills_up_to_the_burst_only() -> None:
    clock = Clock()
    bucket = TokenBucket(rate=10.0, burst=2, clock=clock, sleep=clock.sleep)
    clock.now += 3600
    waits = [await bucket.acquire() for _ in range(3)]
    assert waits == pytest.approx([0.0, 0.0, 0.1])


def test_a_bucket_that_could_never_send_is_refused() -> None:
    with pytest.raises(ValueError, match="rate > 0"):
        TokenBucket(rate=0, burst=1)
    with pytest.raises(ValueError, match="burst >= 1"):
        TokenBucket(rate=1, burst=0)
