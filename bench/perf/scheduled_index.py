"""A scheduled journey fired through the audience index: only its audience is walked.

The shipped ``fruit-day`` journey (every Tuesday 10:00 on the customer's clock; entry:
fruit-club members) over ``customers`` customers of whom ``audience`` are in its audience.
Setup, not measured: the index holds the audience only (that is the point of it: the other
customers have no entry and cost nothing at the occurrence), written with the adapter's own
``RedisAudienceIndex.add`` into each customer's partition shard; then every partition's
cursor is set to an occurrence that has just come (a minute ago, Asia/Shanghai).

Measured: the worker's walk itself (``service.scheduler.Scheduler.round`` over all
partitions, as one worker owning them all) until the whole audience has been handed over:
pages read in id order (ZRANGEBYLEX), an occurrence record per customer produced to the
by-customer topic with every ack awaited, the cursor saved after each page. The pace is
lifted to the setting's maximum so the figure is the walk's own ceiling; a worker walks at
``XO_AUDIENCE_RATE`` (default 2,000 customers a second). Each handed-over customer is then
one engine input (the core judges the entry rules then).
"""

from __future__ import annotations

import asyncio
import functools
import time
from datetime import timedelta
from typing import Any

from aiokafka import AIOKafkaProducer
from redis.asyncio import Redis

from bench.perf import procs
from bench.perf.runs import REPO, Out, Servers
from orchestrator.adapters.kafka_admin import ensure_topics
from orchestrator.adapters.kafka_partitioner import partition_for
from orchestrator.adapters.kafka_publisher import KafkaPublisher
from orchestrator.adapters.redis_audiences import RedisAudienceIndex
from orchestrator.audiences import Cursor, Entry
from orchestrator.config.catalog import load_config
from orchestrator.service.clock import SystemClock
from orchestrator.service.scheduler import Pacer, Scheduler
from orchestrator.service.topics import Topics

JOURNEY = "fruit-day"
TZ = "Asia/Shanghai"
PARTITIONS = 8
MAX_RATE = 1_000_000.0  # the setting's upper bound (XO_AUDIENCE_RATE)
CAP_S = 300.0


async def _walk(servers: Servers, prefix: str, customers: int, audience: int, out: Out) -> dict[str, Any]:
    world = load_config(REPO / "journeys", REPO / "templates").world()
    journey = next(j for j in world.journeys if j.id == JOURNEY)
    client = Redis.from_url(servers.redis_url)
    index = RedisAudienceIndex(client, functools.partial(partition_for, partitions=PARTITIONS), prefix)
    topics = Topics(prefix)
    ensure_topics(servers.bootstrap, {topics.by_customer: PARTITIONS}, {})
    step = max(customers // max(audience, 1), 1)  # every step-th customer is a fruit-club member
    members = [f"S{n:08d}" for n in range(0, customers, step)][:audience]
    out(f"    audience index · {len(members):,} of {customers:,} customers in {JOURNEY}'s audience (setup)")
    started = time.monotonic()
    for at in range(0, len(members), 5000):
        await index.add([Entry(JOURNEY, TZ, cid) for cid in members[at : at + 5000]])
    setup_s = time.monotonic() - started
    clock = SystemClock()
    occurrence = clock.now() - timedelta(minutes=1)
    for partition in range(PARTITIONS):
        await index.save(partition, JOURNEY, TZ, Cursor(str(getattr(journey.trigger, "schedule", "")), occurrence))
    producer = AIOKafkaProducer(bootstrap_servers=servers.bootstrap, linger_ms=5)
    await producer.start()
    try:
        scheduler = Scheduler(
            world, index, KafkaPublisher.for_producer(producer), clock, topics, Pacer(MAX_RATE, clock)
        )
        out(f"    audience index · walking the occurrence over {PARTITIONS} partitions (≤{CAP_S:.0f}s)")
        before, started = procs.cpu_by_role(servers.pids), time.monotonic()
        fired = 0
        while fired < len(members) and time.monotonic() - started < CAP_S:
            walked = await scheduler.round(list(range(PARTITIONS)))
            if walked == 0:
                break
            fired += walked
        seconds = time.monotonic() - started
        after = procs.cpu_by_role(servers.pids)
    finally:
        await producer.stop()
        keys = [k async for k in client.scan_iter(match=f"{prefix}:audience*", count=1000)]
        if keys:
            await client.unlink(*keys)
        await client.aclose()
    cpu = {k: after[k] - before[k] for k in after}
    ours = sum(v for k, v in cpu.items() if k != "machine")
    return {
        "journey": JOURNEY,
        "members": len(members),
        "setup_s": round(setup_s, 2),
        "fired": fired,
        "fire_s": round(seconds, 2),
        "fired_per_s": round(fired / seconds) if seconds else None,
        "us_per_customer": {k: round(1e6 * v / fired, 1) for k, v in cpu.items() if k != "machine"} if fired else {},
        "others_cores": round(max(cpu["machine"] - ours, 0.0) / seconds, 2) if seconds else None,
        "engine_inputs_caused": fired,
        "worker_pace_default_per_s": 2000,
    }


def run(servers: Servers, prefix: str, customers: int, audience: int, out: Out) -> dict[str, Any]:
    return asyncio.run(_walk(servers, prefix, customers, audience, out))
