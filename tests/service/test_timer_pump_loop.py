"""The timer pump's loop: one round at a time; after a full batch the next round starts at once,
but never more than ``AHEAD`` timer records ahead of the process stage."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

import pytest

from orchestrator.service import timers


class Rounds:
    """A pump round that hands over the given counts and records whether two rounds overlapped."""

    def __init__(self, counts: list[int]) -> None:
        self.counts = iter(counts)
        self.calls = 0
        self.running = 0
        self.overlapped = False
        self.called = asyncio.Event()

    async def __call__(self) -> int:
        self.running += 1
        self.overlapped = self.overlapped or self.running > 1
        await asyncio.sleep(0)  # let anything that could overlap run now
        self.running -= 1
        self.calls += 1
        self.called.set()
        return next(self.counts, 0)

    async def until(self, calls: int) -> None:
        while self.calls < calls:
            self.called.clear()
            await asyncio.wait_for(self.called.wait(), timeout=5)


async def _settle() -> None:
    """Let the loop run until it blocks (on the backlog or its hour-long pause)."""
    for _ in range(20):
        await asyncio.sleep(0)


@pytest.fixture
async def loop_of() -> AsyncIterator[Callable[[Rounds, timers.Backlog], None]]:
    tasks: list[asyncio.Task[None]] = []

    def start(rounds: Rounds, backlog: timers.Backlog) -> None:
        # An hour between rounds: a round that comes soon can only come because the last one was full.
        tasks.append(asyncio.create_task(timers.run(rounds, interval=3600, backlog=backlog)))

    yield start
    for task in tasks:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_rounds_never_overlap_and_a_full_batch_is_followed_at_once(
    loop_of: Callable[[Rounds, timers.Backlog], None],
) -> None:
    rounds = Rounds([timers.BATCH, timers.BATCH, 3, 7])
    backlog = timers.Backlog(ahead=10 * timers.BATCH)
    loop_of(rounds, backlog)
    await rounds.until(3)
    await _settle()
    assert rounds.calls == 3  # the round that fired 3 timers is followed by the pause
    assert not rounds.overlapped
    assert backlog.in_flight == 2 * timers.BATCH + 3


async def test_the_pump_waits_for_the_process_stage_once_it_is_ahead_by_the_bound(
    loop_of: Callable[[Rounds, timers.Backlog], None],
) -> None:
    rounds = Rounds([timers.BATCH] * 10)
    backlog = timers.Backlog(ahead=2 * timers.BATCH, patience=3600)
    loop_of(rounds, backlog)
    await rounds.until(3)
    await _settle()
    assert rounds.calls == 3  # 3,000 handed over > 2,000: waiting for the process stage
    backlog.processed(500)  # still 2,500 ahead
    await _settle()
    assert rounds.calls == 3
    backlog.processed(600)  # 1,900: room again
    await rounds.until(4)
    await _settle()
    assert rounds.calls == 4


async def test_without_progress_the_pump_stops_counting_after_its_patience(
    loop_of: Callable[[Rounds, timers.Backlog], None],
) -> None:
    """Records handed over before a rebalance are processed by another worker: not counted forever."""
    rounds = Rounds([timers.BATCH] * 3)
    backlog = timers.Backlog(ahead=timers.BATCH, patience=0.01)
    loop_of(rounds, backlog)
    await rounds.until(3)
    assert backlog.in_flight <= timers.BATCH
