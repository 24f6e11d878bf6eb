"""The audience walk: at each occurrence of a schedule journey, its audience, and only it.

For every partition this worker owns (one owner per partition, as for timers), every
live schedule journey and every zone its audience has held: when the (journey, zone)'s
occurrence has come on that zone's clock, the customers of the partition's index shards
are read page by page, in id order, and each gets the occurrence as a timer record on the
by-customer topic (keyed by the customer: their handler processes it in order with their
events, as it processes a timer). Order of one page:

1. read up to ``page`` customers after the cursor (and no more than the pacer allows);
2. produce their occurrence records and await every ack;
3. save the cursor past the last of them (``<p>:audience-cursor:{p<n>}``).

A crash before 3 hands the page over again after the restart: the core ignores an
occurrence a customer already entered at (``core.triggers.occurrence``), so nobody enters
twice. After the last shard the cursor moves to the next occurrence. ``rate`` bounds the
customers handed over per second over all walks of this worker (a token bucket holding one
second's worth), so a Tuesday 10:00 of millions is spread out instead of queued at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from orchestrator.audiences import Cursor, scheduled_journeys
from orchestrator.audiences.schedule import finished, start
from orchestrator.core import TimerFired, World
from orchestrator.core.journey_spec import JourneySpec
from orchestrator.core.triggers import SCHEDULE_PREFIX
from orchestrator.service import codec
from orchestrator.service.ports import Clock, OutRecord, Publisher
from orchestrator.service.topics import Topics

PAGE = 500


class AudienceWalk(Protocol):
    """The audience index as the walk reads it (``adapters.redis_audiences.RedisAudienceIndex``)."""

    shards: int

    async def zones(self, journey: str) -> list[str]:
        """Every zone the journey's audience has held."""
        ...

    async def page(self, partition: int, shard: int, journey: str, tz: str, after: str, limit: int) -> list[str]:  # noqa: PLR0913, PLR0917 - the index's coordinates, as the adapter takes them
        """Up to ``limit`` customer ids of one shard and zone after ``after``, in id order."""
        ...

    async def cursors(self, partition: int) -> dict[tuple[str, str], Cursor]:
        """The partition's saved cursors by (journey, zone)."""
        ...

    async def save(self, partition: int, journey: str, tz: str, cursor: Cursor) -> None:
        """Persist a cursor; return once Redis acknowledged it."""
        ...


class Pacer:
    """A token bucket: ``rate`` customers a second, at most one second's worth at once."""

    def __init__(self, rate: float, clock: Clock) -> None:
        if rate <= 0:
            raise ValueError(f"audience rate must be positive, got {rate}")
        self.rate = rate
        self.capacity = max(1.0, rate)
        self.clock = clock
        self.tokens = self.capacity
        self.at = clock.monotonic()

    def allowed(self) -> int:
        """Customers that may be handed over now."""
        now = self.clock.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.at) * self.rate)
        self.at = now
        return int(self.tokens)

    def spend(self, count: int) -> None:
        self.tokens -= count


@dataclass
class Scheduler:
    world: World
    index: AudienceWalk
    publisher: Publisher
    clock: Clock
    topics: Topics
    pacer: Pacer
    page: int = PAGE
    handed_over: int = field(default=0, init=False)  # occurrence records produced, for metrics

    async def round(self, partitions: Sequence[int]) -> int:
        """Walk what is due in ``partitions`` as far as the pacer allows; return the customers handed over."""
        fired = 0
        for partition in partitions:
            cursors = await self.index.cursors(partition)
            for journey in scheduled_journeys(self.world, self.clock.now()):
                for tz in await self.index.zones(journey.id):
                    fired += await self._walk(partition, journey, tz, cursors.get((journey.id, tz)))
        self.handed_over += fired
        return fired

    async def _walk(self, partition: int, journey: JourneySpec, tz: str, cursor: Cursor | None) -> int:
        now = self.clock.now()
        if cursor is None or cursor.schedule != _schedule(journey):
            cursor = start(journey, tz, now, self.world)  # a new zone, or a changed schedule
            await self.index.save(partition, journey.id, tz, cursor)
        fired = 0
        while cursor.due(now):
            budget = min(self.page, self.pacer.allowed())
            if budget <= 0:
                return fired  # paced: the next round goes on from the cursor
            ids = await self.index.page(partition, cursor.shard, journey.id, tz, cursor.after, budget)
            if ids:
                await self.publisher.publish([self._record(cid, journey, cursor) for cid in ids])
                self.pacer.spend(len(ids))
                fired += len(ids)
                cursor = cursor.advanced(ids[-1])
            if len(ids) < budget:  # the shard is done
                cursor = cursor.next_shard()
                if cursor.shard >= self.index.shards:
                    cursor = finished(cursor, journey, tz, self.clock.now(), self.world)
            await self.index.save(partition, journey.id, tz, cursor)
        return fired

    def _record(self, cid: str, journey: JourneySpec, cursor: Cursor) -> OutRecord:
        occurrence = TimerFired(customer_id=cid, timer_id=f"{SCHEDULE_PREFIX}{journey.id}", due_at=cursor.occurrence)
        return OutRecord(self.topics.by_customer, cid, codec.encode_timer(occurrence))


def _schedule(journey: JourneySpec) -> str:
    return str(getattr(journey.trigger, "schedule", ""))
