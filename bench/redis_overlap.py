"""A batch's load and commit round trips on a single Redis: does the worker wait for Redis?

    .venv/bin/python -m bench.redis_overlap [--rounds 25] [--customers 500] [--events 2000]

The states of ``--customers`` customers after ``--events`` events of the worker benchmark's
fresh mix (``bench/perf/workload.py``, ``bench/journeys_bench``), two pending outbox records
each. Rows, interleaved (every round runs every row, in an order rotated by one each round),
medians over the rounds of the wall and the CPU (``time.thread_time``) of one call for all
the customers:

* ``commit, one write``: every state packed, then the commands written at once (what the
  store did before ``redis_ops.SEND_EVERY``); ``commit, in parts``: written ``SEND_EVERY``
  commands at a time as the states are packed (``RedisStore.commit`` now);
* ``load, unpacked after``: every reply read, then the states unpacked (before);
  ``load, unpacked as read``: each state unpacked as its reply is read (``RedisStore.load``).

Wall minus CPU is the time the caller waits for Redis. On a machine whose other core is
busy, Redis cannot run beside the caller and the rows come out alike. Starts an embedded
Redis unless REDIS_URL is set.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from bench.perf import workload
from bench.perf.runs import JOURNEYS, TEMPLATES
from bench.perf.stats import rotation
from orchestrator.adapters import redis_ops
from orchestrator.adapters.redis_ops import Call, Client, connect, eval_many
from orchestrator.adapters.redis_store import LOAD, RedisStore, _loaded
from orchestrator.config.catalog import load_config
from orchestrator.core import CustomerState, process
from orchestrator.embedded import EmbeddedRedis
from orchestrator.service import codec
from orchestrator.service.ports import Commit, Loaded, OutRecord

Row = Callable[[], Awaitable[object]]
PARTS = redis_ops.SEND_EVERY  # the store's


def states(customers: int, events: int) -> list[CustomerState]:
    world = load_config(JOURNEYS, TEMPLATES).world()
    now = datetime.now(UTC)
    found: dict[str, CustomerState] = {}
    for cid, raw in workload.backlog(customers, events, now).records:
        _, event = codec.decode_event(raw)
        found[cid] = process(found.get(cid) or CustomerState.new(cid), event, now, world).state
    return list(found.values())


async def unpacked_after(store: RedisStore, ids: list[str]) -> dict[str, Loaded]:
    calls = [Call([store.state_key(cid), store.outbox_key(cid)], ()) for cid in ids]
    replies = await eval_many(store.client, LOAD, calls)
    return {cid: _loaded(cid, *reply) for cid, reply in zip(ids, replies, strict=True)}


async def commit_all(store: RedisStore, found: list[CustomerState]) -> None:
    """Store every state as a new customer's (version 0 → the state's), no outbox."""
    conflicts = await store.commit([Commit(s.customer_id, 0, s, {}, ()) for s in found])
    if conflicts:
        raise RuntimeError(f"{len(conflicts)} conflicts on a fresh prefix")


async def _commit(client: Client, found: list[CustomerState], send_every: int) -> None:
    redis_ops.SEND_EVERY = send_every
    try:
        store = RedisStore(client, prefix=f"bench-overlap-{uuid.uuid4().hex[:8]}")
        outbox = {f"a{n}": OutRecord("xo.actions.sms", "c", b'{"text":"' + b"x" * 300 + b'"}') for n in range(2)}
        conflicts = await store.commit([Commit(s.customer_id, 0, s, outbox, ()) for s in found])
        if conflicts:
            raise RuntimeError(f"{len(conflicts)} conflicts on a fresh prefix")
    finally:
        redis_ops.SEND_EVERY = PARTS


async def measure(url: str, found: list[CustomerState], rounds: int) -> dict[str, list[tuple[float, float]]]:
    client = connect(url, socket_timeout=30)
    store = RedisStore(client, prefix=f"bench-overlap-{uuid.uuid4().hex[:8]}")
    ids = [s.customer_id for s in found]
    await commit_all(store, found)
    rows: dict[str, Row] = {
        "commit, one write": lambda: _commit(client, found, sys.maxsize),
        "commit, in parts": lambda: _commit(client, found, PARTS),
        "load, unpacked after": lambda: unpacked_after(store, ids),
        "load, unpacked as read": lambda: store.load(ids),
    }
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in rows}
    try:
        await unpacked_after(store, ids)  # scripts loaded, connection made
        for n in range(rounds):
            for name in rotation(list(rows), n):
                wall, cpu = time.perf_counter(), time.thread_time()
                await rows[name]()
                times[name].append((time.perf_counter() - wall, time.thread_time() - cpu))
    finally:
        await client.aclose()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=25)
    parser.add_argument("--customers", type=int, default=500)
    parser.add_argument("--events", type=int, default=2000)
    args = parser.parse_args()
    found = states(args.customers, args.events)
    url = os.environ.get("REDIS_URL")
    if url:
        times = asyncio.run(measure(url, found, args.rounds))
    else:
        with EmbeddedRedis() as redis:
            times = asyncio.run(measure(redis.url, found, args.rounds))
    print(f"{len(found)} customers, {args.rounds} rounds, parts of {PARTS}; load average {os.getloadavg()[0]:.2f}")
    print(f"  {'row':<26}{'wall ms':>9}{'CPU ms':>9}{'waiting ms':>12}")
    for name, pairs in times.items():
        wall = statistics.median(w for w, _ in pairs) * 1000
        cpu = statistics.median(c for _, c in pairs) * 1000
        print(f"  {name:<26}{wall:>9.2f}{cpu:>9.2f}{wall - cpu:>12.2f}")


if __name__ == "__main__":
    main()
