"""Redis goes away under a running worker and comes back (same port, data kept): the worker
stays up, stops processing, retries with backoff, and then delivers everything.

A Redis of the test's own (append-only file, fsync on every write) is stopped while
customers' second sends are waiting on timers and new customers' events are produced.
While it is down the worker's batches (they read the identity graph, the due timers and the
states) retry, and no action leaves: an action is produced only after its state is committed.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from redis.asyncio import Redis

from orchestrator.adapters.redis_store import RedisStore
from orchestrator.core import CustomerState
from orchestrator.embedded import EmbeddedRedis
from orchestrator.errors import TransientError
from orchestrator.harness import TopicWatcher, WorkerProcess, produce
from orchestrator.service.ports import Commit, OutRecord, Settle, TimerRef
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

pytestmark = pytest.mark.integration
PARTITIONS = 2
TIMEOUT = 60.0
RETRY = re.compile(r"(\w[\w ]*) failed \(attempt (\d+)\), retrying in ([\d.]+)s: redis( identity graph)?: ")


@pytest.fixture
def redis() -> Iterator[EmbeddedRedis]:
    with EmbeddedRedis(persistent=True) as server:
        yield server


def _retries(worker: WorkerProcess) -> list[tuple[str, int, float]]:
    """(what, attempt, delay) of every Redis retry the worker logged."""
    return [(m[1], int(m[2]), float(m[3])) for m in RETRY.finditer(worker.log_path.read_text(errors="replace"))]


def test_the_worker_rides_out_a_redis_outage_and_then_delivers_everything(
    kafka_bootstrap: str, redis: EmbeddedRedis, prefix: str, tmp_path: Path
) -> None:
    topics = Topics(prefix)
    create_topics(kafka_bootstrap, topics, PARTITIONS)
    watcher = TopicWatcher(kafka_bootstrap, [*output_topics(topics), topics.by_customer], {})
    worker = WorkerProcess(worker_env(kafka_bootstrap, redis.url, prefix, tmp_path, PARTITIONS)).start()
    try:
        now = datetime.now(tz=UTC)
        before = {f"B{n:02d}": customer_events(f"B{n:02d}", now) for n in range(10)}
        for cid, records in before.items():
            produce(kafka_bootstrap, topics.events, records, {}, key=cid)
        expected_before = expected_action_ids(before, now)
        firsts = {a for a in expected_before if ":first:" in a}
        assert watcher.wait_for(lambda _: firsts <= action_ids(watcher), TIMEOUT, alive=worker.alive), diagnose(worker)

        # Down: the second sends of the first customers are waiting on timers that come due
        # while Redis is away.
        waits_due = max(datetime.fromisoformat(str(r.value["created_at"])) for r in actions(watcher.received)) + WAIT
        redis.stop()
        during = {f"D{n:02d}": customer_events(f"D{n:02d}", now) for n in range(10)}
        for cid, records in during.items():
            produce(kafka_bootstrap, topics.events, records, {}, key=cid)

        def stuck() -> bool:
            """The waits are due, and the worker's batch (routing reads the identity graph, the
            due timers are read with it) has failed and backed off several times."""
            attempts: dict[str, int] = {}
            for what, attempt, _ in _retries(worker):
                attempts[what] = max(attempts.get(what, 0), attempt)
            return datetime.now(tz=UTC) > waits_due and attempts.get("process batch", 0) >= 6

        assert watcher.wait_for(lambda _: stuck(), TIMEOUT, alive=worker.alive), diagnose(worker)
        assert worker.alive()
        assert not [r for r in actions(watcher.received) if str(r.value["customer_id"]).startswith("D")]
        delays = [delay for what, _, delay in _retries(worker) if what == "process batch"]
        assert delays[:6] == sorted(delays[:6])
        assert delays[5] >= 8 * delays[0]  # backing off, not spinning
        assert max(delays) <= 5.0  # capped

        # Back, with the state it had: everything arrives, once per action id.
        redis.start()
        expected = expected_before | expected_action_ids(during, now)
        assert len(expected) == 2 * (len(before) + len(during))
        assert watcher.wait_for(lambda _: expected <= action_ids(watcher), TIMEOUT, alive=worker.alive), diagnose(
            worker
        )
        read_to_markers(kafka_bootstrap, watcher, [topics.actions(c) for c in CHANNELS])
        assert_exactly_the_expected_actions(watcher, expected)
        assert worker.alive()
        assert not watcher.of(topics.dlq)
    finally:
        worker.stop()
        watcher.close()


CALLS: dict[str, Callable[[RedisStore], Awaitable[object]]] = {
    "load": lambda store: store.load(["M1"]),
    "commit": lambda store: store.commit(
        [Commit("M1", 0, CustomerState.new("M1"), {"a": OutRecord("t", "M1", b"{}")}, (TimerRef(0, "M1", "x", 1),))]
    ),
    "settle": lambda store: store.settle([Settle("M1", ("a",), (TimerRef(0, "M1", "x", 0),))]),
    "due_timers": lambda store: store.due_timers([0, 1], 1, 10),
    "lease_timers": lambda store: store.lease_timers([TimerRef(0, "M1", "x", 1)], 2),
}


@pytest.mark.parametrize("call", sorted(CALLS))
async def test_every_store_call_reports_redis_being_away_as_transient(
    redis: EmbeddedRedis, prefix: str, call: str
) -> None:
    client = Redis.from_url(redis.url)
    try:
        store = RedisStore(client, prefix=prefix)
        await store.load(["M1"])  # a pooled connection that the stop will break
        redis.stop()
        with pytest.raises(TransientError, match=r"^redis: "):
            await CALLS[call](store)
        redis.start()
        await CALLS[call](store)  # and the same client works again once it is back
    finally:
        await client.aclose()
