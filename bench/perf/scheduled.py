"""A scheduled journey over ``customers`` customers, ``audience`` of whom it may reach, fired.

Two mechanisms, measured by whichever the engine has:

- ``timers`` (no ``orchestrator.audiences``): the engine keeps one schedule timer per
  customer in the store's timer index, eligible or not. The index is filled in the store's
  layout (one entry per customer, all due now; multi-member ZADDs, not measured), then the
  worker's own pump path (``service.timers.pump_once``: due_timers → encode → publish to
  Kafka → lease) runs in a loop until every entry has fired: ``customers`` timers, each one
  an engine input afterwards, for an audience of ``audience``.
- ``audience-index`` (``orchestrator.audiences`` and ``orchestrator.adapters.redis_audiences``
  present): see ``bench/perf/scheduled_index.py`` when it exists; otherwise the row says the
  index is present and not measured here.

CPU from /proc: this process (the pump runs here), Redis and the broker, per fired timer.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import time
from typing import Any

from aiokafka import AIOKafkaProducer
from redis.asyncio import Redis

from bench.perf import procs
from bench.perf.runs import Out, Servers
from bench.perf.timers import PARTITIONS, drain, drain_in_process, in_process_hand_over, schedule
from orchestrator.adapters.kafka_admin import ensure_topics
from orchestrator.adapters.kafka_publisher import KafkaPublisher
from orchestrator.adapters.redis_store import RedisStore
from orchestrator.service.topics import Topics

FIRE_CAP_S = 300.0


def mechanism() -> str:
    """Which way the engine fires a schedule: "audience-index" when the package and its adapter exist."""
    present = all(
        importlib.util.find_spec(name) is not None
        for name in ("orchestrator.audiences", "orchestrator.adapters.redis_audiences")
    )
    return "audience-index" if present else "timers"


def _cpu(servers: Servers) -> dict[str, float]:
    cpu = {name: procs.tree_cpu_seconds(pid) for name, pid in servers.pids.items()}
    cpu["bench"] = procs.cpu_seconds(os.getpid())
    cpu["machine"] = procs.busy_cpu_seconds()
    return cpu


async def _timers(servers: Servers, prefix: str, customers: int, audience: int, out: Out) -> dict[str, Any]:
    client = Redis.from_url(servers.redis_url)
    store = RedisStore(client, prefix=prefix)
    topics = Topics(prefix)
    ensure_topics(servers.bootstrap, {topics.by_customer: PARTITIONS}, {})
    producer = AIOKafkaProducer(bootstrap_servers=servers.bootstrap, linger_ms=5)
    await producer.start()
    try:
        out(f"    scheduled · one schedule timer per customer: {customers:,} index entries (setup)")
        setup_s = await schedule(store, customers, int(time.time() * 1000), batched=True)
        in_process = in_process_hand_over()
        how = "in-process hand-over (due_timers → inputs → settle)" if in_process else "pump_once into Kafka"
        out(f"    scheduled · firing them: {how} (≤{FIRE_CAP_S:.0f}s)")
        before, started = _cpu(servers), time.monotonic()
        if in_process:
            fired, seconds = await drain_in_process(store, customers, FIRE_CAP_S)
        else:
            fired, seconds = await drain(store, KafkaPublisher.for_producer(producer), topics, customers, FIRE_CAP_S)
        after = _cpu(servers)
        await client.delete(*(k for p in range(PARTITIONS) for k in store.timer_keys(p)))
    finally:
        await producer.stop()
        await client.aclose()
    cpu = {k: after[k] - before[k] for k in after}
    ours = sum(v for k, v in cpu.items() if k != "machine")
    elapsed = time.monotonic() - started
    return {
        "mechanism": "timers",
        "hand_over": how,
        "customers": customers,
        "audience": audience,
        "setup_s": round(setup_s, 2),
        "fired": fired,
        "fire_s": round(seconds, 2),
        "fired_per_s": round(fired / seconds) if seconds else None,
        "engine_inputs_caused": fired,
        "inputs_per_audience_member": round(fired / audience, 2) if audience else None,
        "us_per_timer": {k: round(1e6 * v / fired, 1) for k, v in cpu.items() if k != "machine"} if fired else {},
        "others_cores": round(max(cpu["machine"] - ours, 0.0) / elapsed, 2) if elapsed else None,
    }


def run(servers: Servers, prefix: str, customers: int, audience: int, out: Out) -> dict[str, Any]:
    how = mechanism()
    if how == "audience-index":
        if importlib.util.find_spec("bench.perf.scheduled_index") is None:
            return {"mechanism": how, "customers": customers, "audience": audience, "skipped": "not wired yet"}
        from bench.perf import scheduled_index  # type: ignore[attr-defined]  # noqa: PLC0415 - only with the index

        result: dict[str, Any] = scheduled_index.run(servers, prefix, customers, audience, out)
        return result
    return asyncio.run(_timers(servers, prefix, customers, audience, out))
