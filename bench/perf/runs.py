"""The measured runs: the engine and the bare agent over a pre-produced backlog, and the latency run.

Throughput is timed from the first processed record to the last, read off the worker's
``/metrics`` every ``POLL_S``: group join and start-up are excluded (and reported apart).
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from redis import Redis

from bench.perf import procs, workload
from bench.perf.redis_stats import per_input, snapshot
from bench.perf.stats import Sample
from orchestrator.adapters.kafka_admin import ensure_topics
from orchestrator.harness import WorkerProcess
from orchestrator.service.topics import Topics

REPO = Path(__file__).resolve().parents[2]
JOURNEYS = REPO / "bench" / "journeys_bench"
TEMPLATES = REPO / "bench" / "templates_bench"
CHANNELS = ("wecom_private", "sms")
POLL_S = 0.1
START_TIMEOUT_S = 90.0
Out = Callable[[str], None]


class BenchError(Exception):
    """A run could not be carried out (a process died, nothing was consumed in time)."""


@dataclass(frozen=True)
class Servers:
    bootstrap: str
    redis_url: str
    pids: dict[str, int]  # "broker", "redis": children of this process, for CPU accounting
    embedded: bool


@dataclass(frozen=True)
class Knobs:
    partitions: int = 4
    fetch_wait_ms: int = 10
    session_timeout_s: float = 6.0
    batch_size: int = 500
    batch_within_s: float = 0.05


@dataclass(frozen=True)
class Env:
    """Where and how every run of one benchmark happens."""

    servers: Servers
    knobs: Knobs
    out: Out


# --- producing ---------------------------------------------------------------------------


def topic_names(prefix: str) -> list[str]:
    t = Topics(prefix)
    return [t.events, t.by_customer, t.scenarios, t.dlq, *(t.actions(c) for c in CHANNELS)]


async def _produce(bootstrap: str, topic: str, records: Sequence[tuple[str, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, max_batch_size=256 * 1024)
    await producer.start()
    try:
        for start in range(0, len(records), 5000):
            chunk = records[start : start + 5000]
            futures = [await producer.send(topic, value, key=cid.encode()) for cid, value in chunk]
            await asyncio.gather(*futures)
    finally:
        await producer.stop()


def produce_backlog(servers: Servers, prefix: str, knobs: Knobs, records: Sequence[tuple[str, bytes]]) -> float:
    """Create the prefix's topics and produce the backlog keyed by customer; return seconds."""
    ensure_topics(servers.bootstrap, dict.fromkeys(topic_names(prefix), knobs.partitions), {})
    started = time.monotonic()
    asyncio.run(_produce(servers.bootstrap, Topics(prefix).events, records))
    return time.monotonic() - started


# --- watching counters -------------------------------------------------------------------


@dataclass(frozen=True)
class Probe:
    """What to watch: counters, the processes to account CPU to, when it is done, whether it lives."""

    label: str
    read: Callable[[], dict[str, float]]
    pids: dict[str, int]
    done: Callable[[dict[str, float]], bool]
    alive: Callable[[], bool]


def watch(probe: Probe, out: Out, timeout: float, settle_s: float = 1.5) -> list[Sample]:
    """Sample ``read()`` every POLL_S until ``done`` holds and no counter moved for ``settle_s``."""
    samples: list[Sample] = []
    deadline = time.monotonic() + timeout
    progress_at = 0.0
    done_at: float | None = None
    while time.monotonic() < deadline:
        counts = probe.read()
        now = time.monotonic()
        samples.append(Sample(now, counts, _cpu_sample(probe.pids).cpu))
        if now >= progress_at:
            progress_at = now + 5.0
            out(f"    {probe.label} · " + " · ".join(f"{k} {int(v)}" for k, v in counts.items()))
        if not probe.alive():
            raise BenchError(f"{probe.label}: the process exited")
        if probe.done(counts):
            done_at = done_at or now
            moved = [s for s in samples if s.t >= now - settle_s and s.counts != counts]
            if now - done_at >= settle_s and not moved:
                return samples
        time.sleep(POLL_S)
    last = samples[-1].counts if samples else {}
    raise BenchError(f"{probe.label}: not done within {timeout:.0f}s; last counts {last}")


def _first(samples: list[Sample], test: Callable[[Sample], bool]) -> Sample:
    return next(s for s in samples if test(s))


def span_rate(samples: list[Sample], key: str, start: Sample) -> tuple[float, float, float]:
    """(count, seconds, per second) of ``key`` from ``start`` to the sample where it reached its final value."""
    final = samples[-1].counts.get(key, 0.0)
    end = _first(samples, lambda s: s.counts.get(key, 0.0) >= final)
    seconds = max(end.t - start.t, POLL_S)
    count = final - start.counts.get(key, 0.0)
    return final, seconds, count / seconds if count > 0 else 0.0


def cpu_share(start: Sample, end: Sample) -> dict[str, float]:
    """Cores used by each process between two samples (1.0 = one core busy all the time).

    ``machine`` is every process on the machine; ``others`` what is left of it after the
    processes of this benchmark (the measured one, the servers, this process): other load.
    """
    seconds = max(end.t - start.t, POLL_S)
    shares = {name: round((end.cpu[name] - start.cpu[name]) / seconds, 2) for name in end.cpu}
    ours = sum(v for k, v in shares.items() if k != "machine")
    shares["others"] = round(max(shares["machine"] - ours, 0.0), 2)
    return shares


# --- the engine --------------------------------------------------------------------------


def worker_env(servers: Servers, prefix: str, knobs: Knobs) -> dict[str, str]:
    return {
        "KAFKA_BOOTSTRAP_SERVERS": servers.bootstrap,
        "REDIS_URL": servers.redis_url,
        "XO_TOPIC_PREFIX": prefix,
        "XO_GROUP_ID": f"{prefix}-engine",
        "XO_PARTITIONS": str(knobs.partitions),
        "XO_SESSION_TIMEOUT_S": str(knobs.session_timeout_s),
        "XO_FETCH_WAIT_MS": str(knobs.fetch_wait_ms),
        "XO_BATCH_SIZE": str(knobs.batch_size),
        "XO_BATCH_WITHIN_S": str(knobs.batch_within_s),
        "XO_DATA_DIR": tempfile.mkdtemp(prefix="xo-bench-"),
        "XO_JOURNEYS_DIR": str(JOURNEYS),
        "XO_TEMPLATES_DIR": str(TEMPLATES),
        "XO_LOG_LEVEL": "warning",
    }


ENGINE_COUNTERS = {
    "events": "xo_events_total",
    "rejected": "xo_events_rejected_total",
    "timers": "xo_timers_fired_total",
    "actions": "xo_actions_total",
    "hits": "xo_scenario_hits_total",
    "duplicates": "xo_inputs_duplicate_total",
}


def engine_counts(worker: WorkerProcess) -> dict[str, float]:
    metrics = worker.metrics()
    counts = {short: procs.metric_sum(metrics, name) for short, name in ENGINE_COUNTERS.items()}
    counts["inputs"] = counts["events"] + counts["timers"]
    return counts


def start_engine(servers: Servers, prefix: str, knobs: Knobs) -> WorkerProcess:
    """One ``orchestrator worker`` on the prefix (its own data dir and web port)."""
    return WorkerProcess(worker_env(servers, prefix, knobs)).start()


# --- latency -----------------------------------------------------------------------------


def histogram(metrics: dict[str, float], name: str) -> list[tuple[float, float]]:
    """(upper bound, cumulative count) of a Prometheus histogram, +Inf last."""
    buckets = []
    for key, value in metrics.items():
        if key.startswith(f'{name}_bucket{{le="'):
            bound = key.split('le="', 1)[1].split('"', 1)[0]
            buckets.append((float("inf") if bound == "+Inf" else float(bound), value))
    return sorted(buckets)


def histogram_quantile(q: float, buckets: list[tuple[float, float]]) -> float | None:
    """Prometheus' histogram_quantile: linear interpolation inside the bucket."""
    if not buckets or buckets[-1][1] <= 0:
        return None
    rank = q * buckets[-1][1]
    lower, below = 0.0, 0.0
    for bound, cumulative in buckets:
        if cumulative >= rank:
            if bound == float("inf"):
                return lower
            return lower + (bound - lower) * (rank - below) / max(cumulative - below, 1e-12)
        lower, below = bound, cumulative
    return lower


def quantiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p95": None, "p99": None, "max": None}
    ordered = sorted(values)

    def pick(q: float) -> float:
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]

    return {"p50": pick(0.50), "p95": pick(0.95), "p99": pick(0.99), "max": ordered[-1]}


@dataclass
class LatencyRun:
    target_rate: float
    produced: int
    produced_per_s: float
    seconds: float
    probes: int
    probes_received: int
    engine_ms: dict[str, float | None]  # xo_event_to_action_seconds, bucket-interpolated
    engine_actions: float
    broker_ms: dict[str, float | None]  # event produced → action received (2 worker hops + our consumer)
    consumer_fetch_wait_ms: int
    events_processed: float
    redis: dict[str, Any]
    cpu_cores: dict[str, float]  # during the live run: the worker, servers, this process, other load

    def row(self) -> dict[str, Any]:
        return self.__dict__.copy()


@dataclass(frozen=True)
class LatencyPlan:
    rate: float  # events per second
    seconds: float
    customers: int  # the backlog's customers, whose live events these are


class _Live:
    """Produces live events at a steady rate and reads the action topics, in one event loop."""

    def __init__(self, env: Env, prefix: str, plan: LatencyPlan) -> None:
        self.env, self.plan, self.topics = env, plan, Topics(prefix)
        self.sent: dict[str, float] = {}  # probe event id → monotonic time of the produce call
        self.arrived: dict[str, float] = {}  # probe event id → monotonic time the reply was read
        self.produced = 0
        self.elapsed = 0.0
        self._stop = asyncio.Event()

    async def run(self) -> None:
        bootstrap = self.env.servers.bootstrap
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=5)
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=0)
        await consumer.start()
        await producer.start()
        try:
            partitions = []
            for topic in (self.topics.actions(c) for c in CHANNELS):
                parts = consumer.partitions_for_topic(topic) or {0}
                partitions += [TopicPartition(topic, p) for p in sorted(parts)]
            consumer.assign(partitions)
            await consumer.seek_to_end()
            for tp in partitions:  # resolve the positions now, before anything is produced
                await consumer.position(tp)
            reader = asyncio.create_task(self._read(consumer))
            await self._produce(producer)
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and not self.sent.keys() <= self.arrived.keys():
                await asyncio.sleep(0.1)
            self._stop.set()
            await reader
        finally:
            await producer.stop()
            await consumer.stop()

    async def _read(self, consumer: AIOKafkaConsumer) -> None:
        while not self._stop.is_set():
            batches = await consumer.getmany(timeout_ms=50)
            now = time.monotonic()
            for records in batches.values():
                for record in records:
                    text = str(orjson.loads(record.value)["content"].get("text", ""))
                    if workload.PROBE_MARK in text:
                        self.arrived[text.split(workload.PROBE_MARK, 1)[1].rstrip("）")] = now

    async def _produce(self, producer: AIOKafkaProducer) -> None:
        source = workload.stream(self.plan.customers)
        futures: list[asyncio.Future[Any]] = []
        started = time.monotonic()
        progress_at = started + 5
        while (elapsed := time.monotonic() - started) < self.plan.seconds:
            target = int(elapsed * self.plan.rate) + 1
            while self.produced < target:
                cid, value, probe = next(source)
                if probe:
                    self.sent[probe] = time.monotonic()
                futures.append(await producer.send(self.topics.events, value, key=cid.encode()))
                self.produced += 1
            if time.monotonic() >= progress_at:
                progress_at += 5
                self.env.out(
                    f"    latency · produced {self.produced} · probes {len(self.sent)} · replies {len(self.arrived)}"
                )
            await asyncio.sleep(0.005)
        self.elapsed = time.monotonic() - started
        await asyncio.gather(*futures)


def run_latency(env: Env, prefix: str, worker: WorkerProcess, plan: LatencyPlan) -> LatencyRun:
    client = Redis.from_url(env.servers.redis_url)
    metrics_before = worker.metrics()
    redis_before = snapshot(client)
    live = _Live(env, prefix, plan)
    pids = {"worker": worker.proc.pid if worker.proc else 0, **env.servers.pids}
    cpu_before = _cpu_sample(pids)
    asyncio.run(live.run())
    cpu = cpu_share(cpu_before, _cpu_sample(pids))
    time.sleep(1.0)  # let the last batch's metrics land
    metrics_after = worker.metrics()
    redis_after = snapshot(client)
    client.close()
    name = "xo_event_to_action_seconds"
    before = dict(histogram(metrics_before, name))
    delta = [(bound, count - before.get(bound, 0.0)) for bound, count in histogram(metrics_after, name)]
    engine = {f"p{int(q * 100)}": histogram_quantile(q, delta) for q in (0.50, 0.95, 0.99)}
    sent, arrived = live.sent, live.arrived
    broker = quantiles([arrived[k] - sent[k] for k in sent if k in arrived])

    def grown(metric: str) -> float:
        return procs.metric_sum(metrics_after, metric) - procs.metric_sum(metrics_before, metric)

    processed = grown("xo_events_total")
    return LatencyRun(
        target_rate=round(plan.rate),
        produced=live.produced,
        produced_per_s=round(live.produced / live.elapsed),
        seconds=round(live.elapsed, 1),
        probes=len(sent),
        probes_received=sum(1 for k in sent if k in arrived),
        engine_ms={k: _ms(v) for k, v in engine.items()},
        engine_actions=delta[-1][1] if delta else 0.0,
        broker_ms={k: _ms(v) for k, v in broker.items()},
        consumer_fetch_wait_ms=5,
        events_processed=processed,
        redis=per_input(redis_before, redis_after, processed + grown("xo_timers_fired_total")),
        cpu_cores=cpu,
    )


def _cpu_sample(pids: dict[str, int]) -> Sample:
    cpu = {name: procs.tree_cpu_seconds(pid) for name, pid in pids.items()}
    cpu["bench"] = procs.cpu_seconds(os.getpid())
    cpu["machine"] = procs.busy_cpu_seconds()
    return Sample(time.monotonic(), {}, cpu)


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)
