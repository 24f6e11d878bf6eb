"""A scheduled journey over ``customers`` customers, ``audience`` of whom it may reach, fired.

Two mechanisms, measured by whichever the engine has:

- ``timers`` (no ``orchestrator.audiences``): the engine keeps one schedule timer per
  customer in the store's timer index, eligible or not. The index is filled in the store's
  layout (one entry per customer, all due now; multi-member ZADDs, not measured), then the
  worker's own pump path (``service.timers.pump_once``: due_timers → encode → publish to
  Kafka → lease) runs in a loop until every entry has fired: ``customers`` timers, each one
  an engine input afterwards, for an audience of ``audience``.
- ``audience-index`` (``orchestrator.audiences`` and ``orchestrator.adapters.redis_audiences``
  present): the walk of the audience is measured by ``bench/perf/scheduled_index.py`` when it
  exists; otherwise the result says it was not measured. ``audience-simulate-only``: the
  package without its Redis adapter (only ``simulate`` walks an index).

Either way ``customers`` timers due at once are fired through the timer index, the path every
timer (waits, cycles) takes: the "1M timers fired" figure.

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

FIRE_CAP_S = 150.0  # the rate holds after that; the table says how many of them fired


def mechanism() -> str:
    """How the engine fires a schedule journey.

    "timers": one timer per customer (no ``orchestrator.audiences``); "audience-index": the
    package and its Redis adapter; "audience-simulate-only": the package without the adapter
    (``simulate`` walks an index in memory; a worker has none to walk).
    """
    if importlib.util.find_spec("orchestrator.audiences") is None:
        return "timers"
    if importlib.util.find_spec("orchestrator.adapters.redis_audiences") is None:
        return "audience-simulate-only"
    return "audience-index"


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
    """``customers`` timers due at once, fired through the timer index (whatever schedules them),
    and the scheduled journey by the mechanism the engine has."""
    how = mechanism()
    result = asyncio.run(_timers(servers, prefix, customers, audience, out))
    result["mechanism"] = how
    if how != "timers":  # the timers measured above are no longer one per customer of a schedule
        result["engine_inputs_caused"] = None
        result["inputs_per_audience_member"] = None
    if how == "audience-index" and importlib.util.find_spec("bench.perf.scheduled_index") is not None:
        from bench.perf import scheduled_index  # noqa: PLC0415 - imports the audience adapter, present only with the index

        result["audience_walk"] = scheduled_index.run(servers, f"{prefix}-index", customers, audience, out)
    elif how == "audience-index":
        result["audience_walk"] = {"skipped": "the Redis audience index is present; this harness does not walk it yet"}
    elif how == "audience-simulate-only":
        result["audience_walk"] = {"skipped": "the audience index exists in simulate only; a worker has none to walk"}
    return result
