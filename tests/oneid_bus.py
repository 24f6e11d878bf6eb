"""An in-process stream for OneID tests: the identify stage and the handler, wired through a list.

Records the stages produce to ``xo.events`` / ``xo.events.by-customer`` are fed back in
(one partition, in produce order), everything else is kept as output. The store and the
graph are whatever the test passes: memory ones, or real Redis ones.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from orchestrator.core import World
from orchestrator.service.handler import Handler, InRecord
from orchestrator.service.identify import route
from orchestrator.service.ports import IdentityGraph, OutRecord, StateStore
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


class Bus:
    def __init__(self, world: World, store: StateStore, graph: IdentityGraph, topics: Topics | None = None) -> None:
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
                if topic == self.topics.events:
                    await route(records, self, self.topics, self.graph, self.world.identity)
                else:
                    await self.handler().handle(records)
            except BaseException:
                self.queue[:0] = take  # not acked: redelivered
                raise
        raise AssertionError("the stream did not settle")

    def _in(self, record: OutRecord) -> InRecord:
        self.offset += 1
        return InRecord(0, self.offset, record.key.encode(), record.value, time.monotonic())

    def on(self, topic: str) -> list[dict[str, Any]]:
        return [orjson.loads(r.value) for r in self.out if r.topic == topic]

    def actions(self) -> list[dict[str, Any]]:
        return [
            a for r in self.out if r.topic.startswith(f"{self.topics.prefix}.actions.") for a in [orjson.loads(r.value)]
        ]
