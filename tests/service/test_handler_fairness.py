"""A long batch shares the event loop: the handler yields between one customer's inputs, not only
between customers, so heartbeats, the timer pump and /metrics run while it works."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from orchestrator.adapters.memory_store import MemoryStore
from orchestrator.bootstrap import load_world
from orchestrator.service.handler import YIELD_AFTER_S, Handler, InRecord
from orchestrator.service.ports import OutRecord
from orchestrator.service.topics import Topics
from orchestrator.settings import Settings
from tests.integration.workers import JOURNEYS, TEMPLATES, event

NOW = datetime.now(tz=UTC)
INPUTS = 200


class SlowClock:
    """Every look at the monotonic clock finds that one yield interval has passed."""

    def __init__(self) -> None:
        self.ticks = 0.0

    def now(self) -> datetime:
        return NOW

    def monotonic(self) -> float:
        self.ticks += YIELD_AFTER_S * 2  # well past it: no rounding can hide a yield
        return self.ticks


class Discard:
    async def publish(self, records: Sequence[OutRecord]) -> None:
        return None


async def test_one_customers_long_run_of_inputs_yields_to_the_event_loop() -> None:
    _, world = load_world(Settings(xo_journeys_dir=JOURNEYS, xo_templates_dir=TEMPLATES))
    handler = Handler(world, MemoryStore(), Discard(), SlowClock(), Topics("t"))
    lines = [event(f"c{n}", "M1", "chat.message", NOW - timedelta(minutes=n), {"text": "好"}) for n in range(INPUTS)]
    records = [InRecord(0, n, b"M1", raw, time.monotonic()) for n, raw in enumerate(lines)]
    turns = 0
    done = asyncio.Event()

    async def other_work() -> None:
        nonlocal turns
        while not done.is_set():
            turns += 1
            await asyncio.sleep(0)

    other = asyncio.create_task(other_work())
    await asyncio.sleep(0)  # let it start
    started = turns
    report = await handler.handle(records)
    done.set()
    await other
    assert report.events == {"chat.message": INPUTS}
    assert turns - started >= INPUTS - 1  # it ran between (almost) every two inputs
