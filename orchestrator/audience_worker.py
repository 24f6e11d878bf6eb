"""The audience side of a worker: the index kept on every commit and the walk of due occurrences.

``install`` is the worker's one hook (faust_app.create_app): it returns the store the
handler commits through (``adapters.redis_audiences.IndexedStore``) and starts a task that
walks, for the partitions this worker owns now, whatever occurrence has come
(``service.scheduler``), paced at ``XO_AUDIENCE_RATE`` customers a second, every
``XO_AUDIENCE_INTERVAL_S`` seconds; a round never overlaps the previous one.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from orchestrator.adapters.kafka_partitioner import partition_for
from orchestrator.adapters.redis_audiences import IndexedStore, RedisAudienceIndex
from orchestrator.adapters.redis_store import RedisStore
from orchestrator.bootstrap import Wired
from orchestrator.core import World
from orchestrator.service.ports import Publisher
from orchestrator.service.retry import retrying
from orchestrator.service.scheduler import Pacer, Scheduler


@dataclass(frozen=True)
class Audiences:
    """The store the handler commits through (it keeps the index) and the walk's scheduler."""

    store: IndexedStore
    scheduler: Scheduler

    def use_world(self, world: World) -> None:
        """A reloaded journey set: judge memberships and walk schedules by it from now on."""
        self.store.world = world
        self.scheduler.world = world


def install(
    app: Any, wired: Wired, store: RedisStore, publisher: Publisher, owned: Callable[[], Sequence[int]]
) -> Audiences:
    """Start the walk on ``app`` (a faust.App); return the store that keeps the index on commit."""
    s = wired.settings
    index = RedisAudienceIndex(
        store.client, functools.partial(partition_for, partitions=s.xo_partitions), store.prefix, store.shards
    )
    pacer = Pacer(s.xo_audience_rate, wired.clock)
    scheduler = Scheduler(wired.world, index, publisher, wired.clock, wired.topics, pacer)

    async def walk() -> None:
        while True:
            await retrying(functools.partial(scheduler.round, list(owned())), "audience walk")
            await asyncio.sleep(s.xo_audience_interval_s)  # the walk's period: occurrences come with time

    app.task(walk)
    return Audiences(IndexedStore(store, index, wired.world, wired.clock), scheduler)
