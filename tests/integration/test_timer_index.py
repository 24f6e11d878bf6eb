"""The timer index in Redis against timers that are set again before their old entry is settled.

The index holds one entry per (customer, timer id). After a batch, entries of timers that
fired or were cancelled are removed. A timer id can be set again meanwhile: an instance's
next wait reuses its wait timer id, and an order moves the cycle timer while the pump has
already put the old firing on the stream. Such an entry must stay, or the timer never fires.

Handler, timer pump and RedisStore, with a clock the test moves; on a single Redis and on a
Redis Cluster of three masters.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from orchestrator.adapters.redis_ops import Client
from orchestrator.adapters.redis_store import RedisStore
from orchestrator.bootstrap import load_world
from orchestrator.service.handler import Handler, InRecord
from orchestrator.service.ports import OutRecord
from orchestrator.service.timers import pump_once
from orchestrator.service.topics import Topics
from orchestrator.settings import Settings
from tests.integration.workers import JOURNEYS, TEMPLATES, customer_events, event

pytestmark = pytest.mark.integration
TWO_WAITS = Path(__file__).resolve().parent / "two_waits"


class Clock:
    def __init__(self) -> None:
        self.at = datetime.now(tz=UTC)

    def now(self) -> datetime:
        return self.at

    def monotonic(self) -> float:
        return time.monotonic()


class Recording:
    def __init__(self) -> None:
        self.records: list[OutRecord] = []

    async def publish(self, records: Sequence[OutRecord]) -> None:
        self.records.extend(records)


class Engine:
    """One partition's handler and timer pump; the stream is a list the test hands over."""

    def __init__(self, store_client: Client, prefix: str, journeys: Path) -> None:
        _, world = load_world(Settings(xo_journeys_dir=journeys, xo_templates_dir=TEMPLATES))
        self.clock = Clock()
        self.topics = Topics(prefix)
        self.store = RedisStore(store_client, prefix=prefix)
        self.out = Recording()
        self.handler = Handler(world, self.store, self.out, self.clock, self.topics)
        self.offset = 0

    async def feed(self, values: Sequence[bytes]) -> None:
        records = []
        for value in values:
            records.append(InRecord(0, self.offset, b"M1", value, time.monotonic()))
            self.offset += 1
        await self.handler.handle(records)

    async def pump(self) -> list[bytes]:
        """Due timers as the pump puts them on the by-customer topic (not yet processed)."""
        stream = Recording()
        await pump_once(self.store, stream, self.clock, self.topics, [0])
        return [r.value for r in stream.records]

    def steps_sent(self) -> list[str]:
        actions = [orjson.loads(r.value) for r in self.out.records if ".actions." in r.topic]
        return [a["journey"]["step"] for a in actions]


async def test_a_second_wait_of_an_instance_fires(store_client: Client, prefix: str) -> None:
    engine = Engine(store_client, prefix, TWO_WAITS)
    await engine.feed(customer_events("M1", engine.clock.now()))
    await engine.feed(await engine.pump())  # the cycle timer: first send, then the first wait
    assert engine.steps_sent() == ["first"]
    engine.clock.at += timedelta(hours=1, seconds=1)
    await engine.feed(await engine.pump())  # the first wait: second send, then the second wait
    assert engine.steps_sent() == ["first", "second"]
    engine.clock.at += timedelta(hours=1, seconds=1)
    fired = await engine.pump()
    assert len(fired) == 1, "the second wait has no index entry: it would never fire"
    await engine.feed(fired)
    assert engine.steps_sent() == ["first", "second", "third"]


async def test_a_cycle_timer_moved_while_its_old_firing_is_in_flight_still_fires(
    store_client: Client, prefix: str
) -> None:
    engine = Engine(store_client, prefix, JOURNEYS)
    now = engine.clock.now()
    await engine.feed(customer_events("M1", now))
    in_flight = await engine.pump()  # the cycle timer is due and on its way
    assert len(in_flight) == 1
    order = {"order_id": "O-2", "amount": 199.0, "items": [{"sku": "PRO-900", "qty": 1}]}
    await engine.feed([event("M1-order2", "M1", "order.paid", now, order)])  # moves run-out ~30 days on
    await engine.feed(in_flight)  # the old firing arrives: the timer is no longer due, nothing happens
    assert engine.steps_sent() == []
    engine.clock.at += timedelta(days=29)
    fired = await engine.pump()
    assert len(fired) == 1, "the moved cycle timer has no index entry: it would never fire"
    await engine.feed(fired)
    assert engine.steps_sent() == ["first"]


class HandedOver:
    """A stream whose consumer processes each timer record before the pump gets its acks back
    (the pump waits for up to 1,000 acks; the process stage does not wait for the pump)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    async def publish(self, records: Sequence[OutRecord]) -> None:
        await self.engine.feed([r.value for r in records])


async def test_a_wait_set_again_before_the_pump_leases_its_firing_keeps_its_due_time(
    store_client: Client, prefix: str
) -> None:
    engine = Engine(store_client, prefix, TWO_WAITS)
    await engine.feed(customer_events("M1", engine.clock.now()))
    await engine.feed(await engine.pump())  # first send; the wait timer is due in 1 h
    engine.clock.at += timedelta(hours=1, seconds=1)
    fired_at = engine.clock.now()
    await pump_once(engine.store, HandedOver(engine), engine.clock, engine.topics, [0])
    assert engine.steps_sent() == ["first", "second"]  # the second wait reuses the timer id, due in 1 h
    lease_end = fired_at + timedelta(seconds=61)
    due = await engine.store.due_timers([0], int(lease_end.timestamp() * 1000), 10)
    assert due == [], "the lease moved the second wait to the end of the first firing's lease"
    second_due = fired_at + timedelta(hours=1)
    [entry] = await engine.store.due_timers([0], int(second_due.timestamp() * 1000), 10)
    assert entry.due_ms == int(second_due.timestamp() * 1000)
    engine.clock.at = second_due
    await engine.feed(await engine.pump())
    assert engine.steps_sent() == ["first", "second", "third"]
