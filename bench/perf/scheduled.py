"""A scheduled journey over ``customers`` customers, ``audience`` of whom it reaches, fired.

First ``customers`` timers due at once are fired through the timer index, the path every
timer (waits, cycles) takes, with the worker's in-process hand-over (due_timers → inputs →
settle) around the handler: the "1M timers fired" figure. Then the schedule journey's walk
of its audience index (``bench/perf/scheduled_index.py``): one engine input per audience
member, however many customers there are.

CPU from /proc: this process (the hand-over runs here), Redis and the broker, per fired timer.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from redis.asyncio import Redis

from bench.perf import procs, scheduled_index
from bench.perf.runs import Out, Servers
from bench.perf.timers import PARTITIONS, drain_in_process, schedule
from orchestrator.adapters.redis_store import RedisStore

HAND_OVER = "in-process hand-over (due_timers → inputs → settle)"
FIRE_CAP_S = 150.0  # the rate holds after that; the table says how many of them fired


async def _timers(servers: Servers, prefix: str, customers: int, audience: int, out: Out) -> dict[str, Any]:
    client = Redis.from_url(servers.redis_url)
    store = RedisStore(client, prefix=prefix)
    try:
        out(f"    scheduled · {customers:,} timers due at once: index entries (setup)")
        setup_s = await schedule(store, customers, int(time.time() * 1000), batched=True)
        out(f"    scheduled · firing them: {HAND_OVER} (≤{FIRE_CAP_S:.0f}s)")
        before, started = procs.cpu_by_role(servers.pids), time.monotonic()
        fired, seconds = await drain_in_process(store, customers, FIRE_CAP_S)
        after = procs.cpu_by_role(servers.pids)
        await client.delete(*(k for p in range(PARTITIONS) for k in store.timer_keys(p)))
    finally:
        await client.aclose()
    cpu = {k: after[k] - before[k] for k in after}
    ours = sum(v for k, v in cpu.items() if k != "machine")
    elapsed = time.monotonic() - started
    return {
        "mechanism": "audience-index",
        "hand_over": HAND_OVER,
        "customers": customers,
        "audience": audience,
        "setup_s": round(setup_s, 2),
        "fired": fired,
        "fire_s": round(seconds, 2),
        "fired_per_s": round(fired / seconds) if seconds else None,
        "us_per_timer": {k: round(1e6 * v / fired, 1) for k, v in cpu.items() if k != "machine"} if fired else {},
        "others_cores": round(max(cpu["machine"] - ours, 0.0) / elapsed, 2) if elapsed else None,
    }


def run(servers: Servers, prefix: str, customers: int, audience: int, out: Out) -> dict[str, Any]:
    """``customers`` timers due at once, fired through the timer index, and the schedule
    journey's walk of its audience."""
    result = asyncio.run(_timers(servers, prefix, customers, audience, out))
    result["audience_walk"] = scheduled_index.run(servers, f"{prefix}-index", customers, audience, out)
    return result
