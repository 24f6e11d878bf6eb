"""The timer pump's loop: one round at a time; after a full batch the next round starts at once."""

from __future__ import annotations

import asyncio
import contextlib

from orchestrator.service import timers


async def test_rounds_never_overlap_and_a_full_batch_is_followed_at_once() -> None:
    calls: list[int] = []
    running = 0
    overlapped = False
    third = asyncio.Event()
    results = iter([timers.BATCH, timers.BATCH, 3, 0])

    async def round_() -> int:
        nonlocal running, overlapped
        running += 1
        overlapped = overlapped or running > 1
        await asyncio.sleep(0)  # let anything that could overlap run now
        calls.append(running)
        running -= 1
        if len(calls) == 3:
            third.set()
        return next(results)

    # An hour between rounds: the third round can only come that soon if full batches skip the pause.
    task = asyncio.create_task(timers.run(round_, interval=3600))
    await asyncio.wait_for(third.wait(), timeout=5)
    for _ in range(10):
        await asyncio.sleep(0)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert len(calls) == 3  # the round that fired 3 timers is followed by the pause
    assert not overlapped
