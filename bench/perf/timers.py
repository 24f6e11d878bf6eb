"""Timers: scheduling N timer index entries in Redis, and the rate at which due ones are pumped.

Scheduling uses the store's own layout and command shape (``RedisStore.commit`` adds one
``ZADD <p>:timers:{p<n>:<shard>} due_ms "<cid>\\x1f<timer_id>"`` per timer, pipelined with the
batch's commits): pipelines of ``CHUNK`` ZADDs. For comparison, the same entries as one
multi-member ZADD per partition per chunk. Firing runs the worker's own path,
``service.timers.pump_once`` (``due_timers`` → encode a TimerFired record each → publish →
``lease_timers``), in a loop without the worker's 0.25 s interval: once with a publisher
that only counts (the store's and the encoder's ceiling) and once producing to Kafka.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaProducer
from redis.asyncio import Redis

from bench.perf.runs import Out, Servers
from orchestrator.adapters.kafka_admin import ensure_topics
from orchestrator.adapters.kafka_publisher import KafkaPublisher
from orchestrator.adapters.redis_store import SEP, RedisStore
from orchestrator.service.clock import SystemClock
from orchestrator.service.ports import OutRecord
from orchestrator.service.timers import BATCH, pump_once
from orchestrator.service.topics import Topics

CHUNK = 1000
PARTITIONS = 4


class CountingPublisher:
    def __init__(self) -> None:
        self.count = 0

    async def publish(self, records: Sequence[OutRecord]) -> None:
        self.count += len(records)


async def _schedule(store: RedisStore, count: int, now_ms: int, batched: bool) -> float:
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


async def _used_memory(client: Redis) -> int:
    info: dict[str, Any] = await client.info("memory")
    return int(info["used_memory"])


async def _drain(store: RedisStore, publisher: Any, topics: Topics, limit: int, seconds: float) -> tuple[int, float]:
    clock = SystemClock()
    partitions = list(range(PARTITIONS))
    fired = 0
    started = time.monotonic()
    while fired < limit and time.monotonic() - started < seconds:
        n = len(await pump_once(store, publisher, clock, topics, partitions))
        if n == 0:
            break
        fired += n
    return fired, time.monotonic() - started


async def _run(servers: Servers, prefix: str, count: int, fire_s: float, out: Out) -> dict[str, Any]:
    bootstrap = servers.bootstrap
    client = Redis.from_url(servers.redis_url)
    store = RedisStore(client, prefix=prefix)
    batched_store = RedisStore(client, prefix=f"{prefix}b")
    topics = Topics(prefix)
    now_ms = int(time.time() * 1000)
    try:
        memory_before = await _used_memory(client)
        out(f"    timers · scheduling {count} (one ZADD per timer, pipelined by {CHUNK})")
        seconds = await _schedule(store, count, now_ms, batched=False)
        memory = await _used_memory(client) - memory_before
        out(f"    timers · {count / seconds:,.0f}/s; the same as one multi-member ZADD per partition")
        batched_seconds = await _schedule(batched_store, count, now_ms, batched=True)
        await client.delete(*(k for p in range(PARTITIONS) for k in batched_store.timer_keys(p)))
        out(f"    timers · pumping due timers with a counting publisher (≤{fire_s:.0f}s)")
        counted, counted_s = await _drain(store, CountingPublisher(), topics, count, fire_s)
        ensure_topics(bootstrap, {topics.by_customer: PARTITIONS}, {})
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
        await producer.start()
        try:
            # The leased entries are due again only in 60 s: pump fresh ones.
            fresh = RedisStore(client, prefix=f"{prefix}k")
            await _schedule(fresh, min(count, 200_000), now_ms, batched=True)
            out(f"    timers · pumping due timers into Kafka (≤{fire_s:.0f}s)")
            produced, produced_s = await _drain(
                fresh, KafkaPublisher.for_producer(producer), topics, min(count, 200_000), fire_s
            )
            await client.delete(*(k for p in range(PARTITIONS) for k in fresh.timer_keys(p)))
        finally:
            await producer.stop()
        await client.delete(*(k for p in range(PARTITIONS) for k in store.timer_keys(p)))
        return {
            "scheduled": count,
            "schedule_s": round(seconds, 2),
            "schedule_per_s": round(count / seconds),
            "schedule_batched_s": round(batched_seconds, 2),
            "schedule_batched_per_s": round(count / batched_seconds),
            "index_bytes_per_timer": round(memory / count, 1),
            "pump_batch": BATCH,
            "fired_counting": counted,
            "fire_counting_per_s": round(counted / counted_s) if counted_s else None,
            "fired_to_kafka": produced,
            "fire_to_kafka_per_s": round(produced / produced_s) if produced_s else None,
            "worker_pump_ceiling_per_s": None,  # filled in by the caller from XO_TIMER_INTERVAL_S
        }
    finally:
        await client.aclose()


def run_timers(servers: Servers, prefix: str, count: int, fire_s: float, out: Out) -> dict[str, Any]:
    return asyncio.run(_run(servers, prefix, count, fire_s, out))
