"""Timers: filling the store's timer index with N entries, and firing the due ones.

Scheduling uses the store's own layout and command shape (``RedisStore.commit`` adds one
``ZADD <p>:timers:{p<n>:<shard>} due_ms "<cid>\\x1f<timer_id>"`` per timer, pipelined with the
batch's commits): pipelines of ``CHUNK`` ZADDs. For comparison, the same entries as one
multi-member ZADD per partition per chunk. Firing runs the worker's in-process
hand-over around the handler (``due_timers`` → ``timers.as_records`` → ``settle``), in a loop
without the worker's interval.
"""

from __future__ import annotations

import time

from orchestrator.adapters.redis_store import SEP, RedisStore
from orchestrator.service import timers
from orchestrator.service.clock import SystemClock
from orchestrator.service.ports import Settle

CHUNK = 1000
PARTITIONS = 4


async def schedule(store: RedisStore, count: int, now_ms: int, batched: bool) -> float:
    client = store.client
    started = time.monotonic()
    for start in range(0, count, CHUNK):
        pipe = client.pipeline(transaction=False)
        if batched:
            members: dict[str, dict[str, int]] = {}
            for n in range(start, min(start + CHUNK, count)):
                key = store.timer_key(n % PARTITIONS, f"T{n:08d}")
                members.setdefault(key, {})[f"T{n:08d}{SEP}cycle:protein"] = now_ms - 3_600_000 + n % 3_600_000
            for key, mapping in members.items():
                pipe.zadd(key, mapping)
        else:
            for n in range(start, min(start + CHUNK, count)):
                member = f"T{n:08d}{SEP}cycle:protein"
                pipe.zadd(store.timer_key(n % PARTITIONS, f"T{n:08d}"), {member: now_ms - 3_600_000 + n % 3_600_000})
        await pipe.execute()
    return time.monotonic() - started


async def drain_in_process(store: RedisStore, limit: int, seconds: float) -> tuple[int, float]:
    """The in-process hand-over around the handler, without the handler's processing: read the
    due entries (``due_timers``, at most ``BATCH``), make them handler inputs (``as_records``),
    and remove the entries as ``settle`` does once their inputs are committed."""
    clock = SystemClock()
    partitions = list(range(PARTITIONS))
    fired = 0
    started = time.monotonic()
    while fired < limit and time.monotonic() - started < seconds:
        due = await store.due_timers(partitions, int(clock.now().timestamp() * 1000), timers.BATCH)
        if not due:
            break
        timers.as_records(due, clock.monotonic())
        await store.settle([Settle(ref.customer_id, (), (ref,)) for ref in due])
        fired += len(due)
    return fired, time.monotonic() - started
