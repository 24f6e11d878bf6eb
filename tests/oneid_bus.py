"""An in-process stream for OneID tests: the identify stage and the handler, wired through a list.

Records the stages produce to ``xo.events`` / ``xo.events.by-customer`` are fed back in
(one partition, in produce order), everything else is kept as output. The store and the
graph are whatever the test passes: memory ones, or real Redis ones.

``single_pass=True`` runs the worker's single pass instead (service/single_pass.py): events
are keyed as a source keys them by its own identifier (the canonical form of the event's
first identifier), those already canonical are processed where they land, the others are
re-keyed. Due timers are left to the tests (they fire them explicitly).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from orchestrator.core import World
from orchestrator.core.identity import canonical_id
from orchestrator.errors import InputError
from orchestrator.service import timers
from orchestrator.service.handler import Handler, InRecord
from orchestrator.service.identify import routable, route
from orchestrator.service.ports import IdentityGraph, OutRecord, StateStore, TimerRef
from orchestrator.service.single_pass import Batch, SinglePass
from orchestrator.service.topics import Topics

NOW = datetime.now(tz=UTC).replace(microsecond=0)


class FixedClock:
    def __init__(self) -> None:
        self.at = NOW

    def now(self) -> datetime:
        return self.at

    def monotonic(self) -> float:
        return time.monotonic()


def event(id_: str, type_: str, days_ago: float, data: dict[str, Any] | None = None, **identity: str) -> bytes:
    return orjson.dumps(
        {
            "id": id_,
            "type": type_,
            "time": (NOW - timedelta(days=days_ago)).isoformat(),
            "identity": identity,
            "data": data or {},
        }
    )


class _NoDueTimers:
    async def due_timers(self, partitions: Sequence[int], now_ms: int, limit: int) -> list[TimerRef]:
        return []


class Bus:
    def __init__(
        self,
        world: World,
        store: StateStore,
        graph: IdentityGraph,
        topics: Topics | None = None,
        single_pass: bool = False,
    ) -> None:
        self.single_pass = single_pass
        self.topics = topics or Topics("t")
        self.world = world
        self.store = store
        self.graph = graph
        self.queue: list[OutRecord] = []
        self.out: list[OutRecord] = []
        self.offset = 0
        self.clock = FixedClock()

    def handler(self) -> Handler:
        return Handler(self.world, self.store, self, self.clock, self.topics).use_identity_graph(self.graph)

    async def publish(self, records: Sequence[OutRecord]) -> None:
        for record in records:
            if record.topic in (self.topics.events, self.topics.by_customer):
                self.queue.append(record)
            else:
                self.out.append(record)

    async def send(self, *events: bytes) -> None:
        self.queue.extend(OutRecord(self.topics.events, "", e) for e in events)
        await self.drain()

    async def drain(self, batch: int = 50) -> None:
        """Feed queued records through their stage until none are left (a batch: consecutive records of one topic)."""
        for _ in range(1000):
            if not self.queue:
                return
            topic = self.queue[0].topic
            take = []
            while self.queue and self.queue[0].topic == topic and len(take) < batch:
                take.append(self.queue.pop(0))
            records = [self._in(r) for r in take]
            try:
                if self.single_pass:
                    await self._single_pass(topic, records)
                elif topic == self.topics.events:
                    await route(records, self, self.topics, self.graph, self.world.identity)
                else:
                    await self.handler().handle(records)
            except BaseException:
                self.queue[:0] = take  # not acked: redelivered
                raise
        raise AssertionError("the stream did not settle")

    async def _single_pass(self, topic: str, records: list[InRecord]) -> None:
        pacer = timers.Pacer(_NoDueTimers(), self.clock, interval=0.0)  # type: ignore[arg-type]  # due timers only
        single = SinglePass(self.handler(), pacer, lambda _: 0, self.graph, self.world.identity)
        if topic == self.topics.events:
            await single.handle(Batch(arrivals=[self._source_keyed(r) for r in records], owned=frozenset({0})))
        else:
            await single.handle(Batch(keyed=records, owned=frozenset({0})))

    def _source_keyed(self, record: InRecord) -> InRecord:
        """Keyed as a source keys by its own identifier (unkeyed records only; an unreadable one stays so)."""
        if record.key:
            return record
        try:
            identity = orjson.loads(record.value or b"")["identity"]
            key = canonical_id(routable(identity, self.world.identity)[0])
        except (InputError, orjson.JSONDecodeError, KeyError, TypeError, IndexError):
            return record
        return InRecord(record.partition, record.offset, key.encode(), record.value, record.received)

    def _in(self, record: OutRecord) -> InRecord:
        self.offset += 1
        return InRecord(0, self.offset, record.key.encode(), record.value, time.monotonic())

    def on(self, topic: str) -> list[dict[str, Any]]:
        return [orjson.loads(r.value) for r in self.out if r.topic == topic]

    def actions(self) -> list[dict[str, Any]]:
        return [
            a for r in self.out if r.topic.startswith(f"{self.topics.prefix}.actions.") for a in [orjson.loads(r.value)]
        ]
