"""Mature customers: states of 7-16 KB built once from a history, then copied into every measured run.

``build`` produces each mature customer's history (a registration, then chunks of orders,
chat lines and receipts over the past year, in event-time order) to a template prefix and
lets one engine worker process it, chunk after chunk, until the median state reaches
``TARGET_STATE_BYTES`` (its stored form's JSON: states are stored packed, ~6× smaller, and
sizing them by the packed bytes would grow six times the history) or the chunks run out. None of
this is measured. ``clone`` copies every key of the template prefix (states, outboxes,
identity graph, timer index) to a run's prefix with DUMP / RESTORE, so each round's
mature run starts from the same states. ``measured`` is the mature mix itself: live-like
events of those customers (chat lines, receipts, orders).
"""

from __future__ import annotations

import random
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from redis import Redis

from bench.perf import runs, workload
from bench.perf.runs import Env, Probe, engine_counts, watch
from orchestrator.core import packing

TARGET_STATE_BYTES = 7_500
SAMPLE = 200


def cid_of(index: int) -> str:
    return f"M{index:07d}"


def history(customers: int, chunk: int, per_customer: int, now: datetime, seed: int) -> list[tuple[str, bytes]]:
    """Chunk ``chunk`` of the history: ``per_customer`` events each, customers interleaved.

    Chunk 0 starts with the registration. Chunks cover consecutive weeks of the past year,
    so a customer's events stay in time order across chunks.
    """
    rng = random.Random(seed * 1000 + chunk)
    start = now - timedelta(days=365) + timedelta(days=7 * chunk)
    placed: list[tuple[float, str, bytes]] = []
    for index in range(customers):
        cid = cid_of(index)
        times = sorted(start + timedelta(seconds=rng.uniform(0, 7 * 86400)) for _ in range(per_customer))
        for n, at in enumerate(times):
            id_ = f"{cid}-h{chunk}-{n}"
            first = chunk == 0 and n == 0
            value = workload.registered(cid, 5_000_000 + index, at) if first else _one(id_, cid, at, rng)
            placed.append((rng.random() + n, cid, value))  # keeps each customer's order, interleaves the rest
    placed.sort(key=lambda item: item[0])
    return [(cid, value) for _, cid, value in placed]


def _one(id_: str, cid: str, at: datetime, rng: random.Random) -> bytes:
    roll = rng.random()
    if roll < 0.2:
        return workload.order(id_, cid, at, rng, big=rng.random() < 0.05)
    if roll < 0.75:
        return workload.chat(id_, cid, at, rng.random() < 0.15, rng)
    return workload.receipt(id_, cid, at, rng)


def measured(customers: int, events: int, now: datetime, seed: int) -> list[tuple[str, bytes]]:
    """The mature mix: ``events`` events of the mature customers, timed in the last hour."""
    rng = random.Random(seed)
    per_customer: dict[int, list[datetime]] = {}
    for _ in range(events):
        per_customer.setdefault(rng.randrange(customers), []).append(now - timedelta(seconds=rng.uniform(1, 3600)))
    placed: list[tuple[float, str, bytes]] = []
    for index, times in per_customer.items():
        cid = cid_of(index)
        for n, at in enumerate(sorted(times)):
            placed.append((rng.random() + n, cid, _one(f"{cid}-m{n}", cid, at, rng)))
    placed.sort(key=lambda item: item[0])
    return [(cid, value) for _, cid, value in placed]


@dataclass(frozen=True)
class Sizes:
    p10: int
    median: int
    p90: int
    max: int

    @staticmethod
    def of(values: Sequence[int]) -> Sizes:
        ordered = sorted(values) or [0]

        def pick(q: float) -> int:
            return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]

        return Sizes(pick(0.1), int(statistics.median(ordered)), pick(0.9), ordered[-1])


def state_sizes(client: Redis, prefix: str, cids: Sequence[str]) -> Sizes:
    """The states' JSON bytes (unpacked when stored packed)."""
    pipe = client.pipeline(transaction=False)
    for cid in cids:
        pipe.hget(f"{prefix}:{{{cid}}}:state", "s")
    return Sizes.of([len(packing.unpack(raw)) for raw in pipe.execute() if raw])


@dataclass(frozen=True)
class Preload:
    customers: int
    per_chunk: int  # history events per customer per chunk
    max_chunks: int
    seed: int


def _done_at(target: int) -> Callable[[dict[str, float]], bool]:
    return lambda c: c["events"] + c["rejected"] >= target


def build(env: Env, prefix: str, preload: Preload) -> dict[str, Any]:
    """Grow the template prefix's states chunk by chunk (one worker, not measured)."""
    customers, per_chunk, max_chunks, seed = preload.customers, preload.per_chunk, preload.max_chunks, preload.seed
    client = Redis.from_url(env.servers.redis_url)
    rng = random.Random(seed)
    sample = [cid_of(i) for i in rng.sample(range(customers), min(SAMPLE, customers))]
    now = datetime.now(tz=UTC)
    worker = runs.start_engine(env.servers, prefix, env.knobs)
    produced, chunks = 0, 0
    sizes = Sizes.of([])
    try:
        for chunk in range(max_chunks):
            records = history(customers, chunk, per_chunk, now, seed)
            runs.produce_backlog(env.servers, prefix, env.knobs, records)
            produced += len(records)
            chunks = chunk + 1
            probe = Probe("mature preload", lambda: engine_counts(worker), {}, _done_at(produced), worker.alive)
            watch(probe, env.out, runs.START_TIMEOUT_S + len(records) / 100, settle_s=1.0)
            sizes = state_sizes(client, prefix, sample)
            env.out(f"    mature preload · chunk {chunks}: {produced:,} events · state median {sizes.median:,} B")
            if sizes.median >= TARGET_STATE_BYTES:
                break
    finally:
        worker.stop()
        client.close()
    return {
        "customers": customers,
        "history_events": produced,
        "history_events_per_customer": produced // customers,
        "chunks": chunks,
        "state_bytes": sizes.__dict__,
    }


def clone(redis_url: str, source: str, target: str) -> int:
    """Copy every key of ``source:`` to ``target:`` (DUMP / RESTORE); return the keys copied."""
    client = Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=f"{source}:*", count=1000))
        copied = 0
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            pipe = client.pipeline(transaction=False)
            for key in chunk:
                pipe.dump(key)
            dumps = pipe.execute()
            pipe = client.pipeline(transaction=False)
            for key, blob in zip(chunk, dumps, strict=True):
                if blob is not None:
                    pipe.restore(target + key[len(source) :].decode(), 0, blob, replace=True)
                    copied += 1
            pipe.execute()
        return copied
    finally:
        client.close()
