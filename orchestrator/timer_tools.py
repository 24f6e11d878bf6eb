"""Timer index maintenance (see adapters/timer_reindex.py and docs/operations.md).

``orchestrator timers-reindex --from N``: after the by-customer topic grew from N partitions
to XO_PARTITIONS, move every timer index entry to its customer's new partition.
``orchestrator timers-rebuild``: index every timer the stored states hold that has no entry
(after a Redis failover or crash lost the last writes).
"""

from __future__ import annotations

import asyncio
import functools

from orchestrator.adapters.kafka_partitioner import partition_for
from orchestrator.adapters.timer_reindex import rebuild, reindex
from orchestrator.bootstrap import redis_store
from orchestrator.settings import Settings


def timers_reindex(settings: Settings, partitions_before: int) -> int:
    """Run the move; print what moved; the exit status."""
    if partitions_before >= settings.xo_partitions:
        print(f"timers-reindex: --from {partitions_before} must be below XO_PARTITIONS={settings.xo_partitions}")
        return 2
    moved = asyncio.run(_reindex(settings, partitions_before))
    print(f"moved {moved} timer index entr{'y' if moved == 1 else 'ies'} to their customers' partitions")
    return 0


def timers_rebuild(settings: Settings) -> int:
    added = asyncio.run(_rebuild(settings))
    print(f"indexed {added} timer(s) that had no index entry")
    return 0


async def _rebuild(settings: Settings) -> int:
    store = redis_store(settings)
    try:
        return await rebuild(store, functools.partial(_partition, settings.xo_partitions))
    finally:
        await store.client.aclose()


async def _reindex(settings: Settings, partitions_before: int) -> int:
    store = redis_store(settings)
    try:
        return await reindex(store, partitions_before, functools.partial(_partition, settings.xo_partitions))
    finally:
        await store.client.aclose()


def _partition(partitions: int, cid: str) -> int:
    return partition_for(cid, partitions)
