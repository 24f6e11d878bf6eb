"""Timer catch-up: how fast a worker fires a backlog of due timers (after an outage or a restart).

    .venv/bin/python -m bench.timer_catchup [--timers 20000] [--partitions 4]

Writes ``--timers`` timer index entries due an hour ago (customers spread over the
partitions), starts one worker and measures from its partition assignment to the moment its
handler had processed them all (pump → by-customer topic → handler). Also counts
faust's "timer_pump is overlapping" warnings in the worker's log. Starts an embedded Kafka
(Tansu) and Redis unless KAFKA_BOOTSTRAP_SERVERS / REDIS_URL are set.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

from redis.asyncio import Redis

from orchestrator.adapters.kafka_admin import ensure_topics
from orchestrator.adapters.kafka_partitioner import partition_for
from orchestrator.adapters.redis_store import SEP, RedisStore
from orchestrator.embedded import EmbeddedKafka, EmbeddedRedis
from orchestrator.harness import WorkerProcess, metric_sum
from orchestrator.service.topics import Topics

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT_S = 300.0


def _key(store: RedisStore, partition: int, cid: str) -> str:
    """The index key of the layout the installed store uses (sharded, or one key per partition before)."""
    try:
        return str(store.timer_key(partition, cid))
    except TypeError:
        return str(store.timer_key(partition))


async def _schedule(redis_url: str, prefix: str, timers: int, partitions: int) -> None:
    client = Redis.from_url(redis_url)
    store = RedisStore(client, prefix=prefix)
    due_ms = int((time.time() - 3600) * 1000)
    try:
        for start in range(0, timers, 1000):
            pipe = client.pipeline(transaction=False)
            for n in range(start, min(start + 1000, timers)):
                cid = f"T{n:07d}"
                pipe.zadd(_key(store, partition_for(cid, partitions), cid), {f"{cid}{SEP}cycle:protein": due_ms + n})
            await pipe.execute()
    finally:
        await client.aclose()


def run(timers: int, partitions: int, bootstrap: str, redis_url: str) -> dict[str, float]:
    prefix = f"catchup-{uuid.uuid4().hex[:8]}"
    topics = Topics(prefix)
    names = [topics.events, topics.by_customer, topics.scenarios, topics.dlq]
    ensure_topics(bootstrap, dict.fromkeys(names, partitions), {})
    asyncio.run(_schedule(redis_url, prefix, timers, partitions))
    with tempfile.TemporaryDirectory(prefix="xo-catchup-") as data:
        worker = WorkerProcess(
            {
                "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
                "REDIS_URL": redis_url,
                "XO_TOPIC_PREFIX": prefix,
                "XO_GROUP_ID": prefix,
                "XO_PARTITIONS": str(partitions),
                "XO_SESSION_TIMEOUT_S": "6",
                "XO_FETCH_WAIT_MS": "10",
                "XO_DATA_DIR": data,
                "XO_JOURNEYS_DIR": str(ROOT / "bench" / "crash" / "journeys"),
                "XO_TEMPLATES_DIR": str(ROOT / "bench" / "crash" / "templates"),
            }
        ).start()
        try:
            started = time.monotonic()
            while not worker.assigned(topics.by_customer):
                _check(worker, started)
            assigned = time.monotonic()
            while _handled(worker) < timers:
                _check(worker, started)
            fired = time.monotonic()
        finally:
            worker.stop()
        overlapping = worker.log_path.read_text(errors="replace").count("is overlapping")
    return {
        "timers": timers,
        "start_to_assigned_s": round(assigned - started, 2),
        "assigned_to_all_fired_s": round(fired - assigned, 2),
        "fired_per_s": round(timers / (fired - assigned)),
        "overlapping_warnings": overlapping,
    }


def _handled(worker: WorkerProcess) -> float:
    """Timer inputs the handler processed: these customers have no state, so the core finds
    no such timer and counts the input as a duplicate rather than as fired."""
    metrics = worker.metrics()
    return metric_sum(metrics, "xo_timers_fired_total") + metric_sum(metrics, "xo_inputs_duplicate_total")


def _check(worker: WorkerProcess, started: float) -> None:
    if not worker.alive():
        raise RuntimeError(f"worker exited:\n{worker.log_tail()}")
    if time.monotonic() - started > TIMEOUT_S:
        raise RuntimeError(f"not done within {TIMEOUT_S}s:\n{worker.log_tail()}")
    time.sleep(0.1)  # polling the worker's log and metrics: there is nothing to await


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="timer_catchup", description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--timers", type=int, default=20_000)
    parser.add_argument("--partitions", type=int, default=4)
    args = parser.parse_args(argv)
    with ExitStack() as stack:
        bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or stack.enter_context(EmbeddedKafka()).bootstrap
        redis_url = os.environ.get("REDIS_URL") or stack.enter_context(EmbeddedRedis()).url
        for name, value in run(args.timers, args.partitions, bootstrap, redis_url).items():
            print(f"  {name:26} {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
