"""SIGTERM while Redis is away and a batch is in hand: the worker is gone within its shutdown
bound, says so with a non-zero exit code, acks nothing it did not finish, and a new worker
delivers everything once Redis is back."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from orchestrator.embedded import EmbeddedKafka, EmbeddedRedis
from orchestrator.harness import TopicWatcher, WorkerProcess, produce
from orchestrator.service.shutdown import ABANDONED
from orchestrator.service.topics import Topics
from tests.integration.workers import (
    action_ids,
    create_topics,
    customer_events,
    diagnose,
    expected_action_ids,
    output_topics,
    worker_env,
)

pytestmark = pytest.mark.integration
PARTITIONS = 2
TIMEOUT = 60.0
SHUTDOWN_S = 6.0


@pytest.fixture
def redis() -> Iterator[EmbeddedRedis]:
    with EmbeddedRedis(persistent=True) as server:
        yield server


def _retrying_a_batch(worker: WorkerProcess) -> bool:
    """A batch in hand and retried (the single pass reads the identity graph first)."""
    return "process batch failed (attempt 2)" in worker.log_path.read_text(errors="replace")


def test_sigterm_with_redis_down_exits_in_time_unacked_and_loses_nothing(
    kafka_bootstrap: str, redis: EmbeddedRedis, prefix: str, tmp_path: Path
) -> None:
    topics = Topics(prefix)
    create_topics(kafka_bootstrap, topics, PARTITIONS)
    env = {**worker_env(kafka_bootstrap, redis.url, prefix, tmp_path, PARTITIONS), "XO_SHUTDOWN_TIMEOUT_S": "6"}
    watcher = TopicWatcher(kafka_bootstrap, output_topics(topics), {})
    first = WorkerProcess(env).start()
    second: WorkerProcess | None = None
    try:
        now = datetime.now(tz=UTC)
        before = {"S01": customer_events("S01", now)}
        produce(kafka_bootstrap, topics.events, before["S01"], {}, key="S01")
        firsts = {a for a in expected_action_ids(before, now) if ":first:" in a}
        assert watcher.wait_for(lambda _: firsts <= action_ids(watcher), TIMEOUT, alive=first.alive), diagnose(first)

        redis.stop()
        during = {f"S{n:02d}": customer_events(f"S{n:02d}", now) for n in range(2, 8)}
        for cid, records in during.items():
            produce(kafka_bootstrap, topics.events, records, {}, key=cid)
        assert watcher.wait_for(lambda _: _retrying_a_batch(first), TIMEOUT, alive=first.alive), diagnose(first)

        assert first.proc is not None
        signalled = time.monotonic()
        first.proc.send_signal(signal.SIGTERM)
        code = first.proc.wait(timeout=SHUTDOWN_S + 10)
        took = time.monotonic() - signalled
        assert took <= SHUTDOWN_S + 2, f"took {took:.1f}s"
        assert code == ABANDONED, first.log_tail()
        # faust stops the drain loop, which gives the batch in hand until the deadline and then
        # abandons it unacked (or, should faust's stop hang before that, the watchdog ends it).
        tail = first.log_tail()
        assert "a batch unfinished at shutdown; exiting without acking it" in tail or "1 batch(es) unfinished" in tail

        redis.start()
        second = WorkerProcess(env).start()
        expected = expected_action_ids(before | during, now)
        assert watcher.wait_for(lambda _: expected <= action_ids(watcher), TIMEOUT, alive=second.alive), diagnose(
            second
        )
        assert second.stop() == 0, "a clean stop exits 0"
    finally:
        first.kill()
        if second is not None:
            second.kill()
        watcher.close()


def test_sigterm_with_the_broker_down_exits_in_time(redis_url: str, prefix: str, tmp_path: Path) -> None:
    """The broker of the test's own goes away under a consuming worker: the stop is still bounded."""
    with EmbeddedKafka() as kafka:
        topics = Topics(prefix)
        create_topics(kafka.bootstrap, topics, PARTITIONS)
        env = {**worker_env(kafka.bootstrap, redis_url, prefix, tmp_path, PARTITIONS), "XO_SHUTDOWN_TIMEOUT_S": "6"}
        worker = WorkerProcess(env).start()
        try:
            assert _await_assignment(worker), diagnose(worker)
            kafka.stop()
            assert worker.proc is not None
            signalled = time.monotonic()
            worker.proc.send_signal(signal.SIGTERM)
            code = worker.proc.wait(timeout=SHUTDOWN_S + 10)
            took = time.monotonic() - signalled
        finally:
            worker.kill()
    assert took <= SHUTDOWN_S + 2, f"took {took:.1f}s, exit code {code}"
    assert code in (0, ABANDONED), worker.log_tail()


def _await_assignment(worker: WorkerProcess) -> bool:
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline and worker.alive():
        if worker.assigned(Topics(worker.env["XO_TOPIC_PREFIX"]).by_customer):
            return True
        time.sleep(0.2)  # reading a live process's log; nothing to await
    return False
