"""Two workers in one consumer group share the partitions; when one stops (SIGTERM) or dies
(SIGKILL), the other takes over its partitions and its due timers, and nothing is lost.

Customers are spread over 4 partitions. Every customer's journey sends, waits 6 s and sends
again; the second sends of the stopped worker's customers come due only after it stopped,
so the survivor must fire those timers from the shared Redis index. More customers arrive
while the partitions move.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from orchestrator.adapters.kafka_partitioner import partition_for
from orchestrator.harness import TopicWatcher, WorkerProcess, produce
from orchestrator.service.topics import Topics
from tests.integration.workers import (
    CHANNELS,
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
PARTITIONS = 4
TIMEOUT = 60.0


@pytest.fixture
def topics(prefix: str) -> Topics:
    return Topics(prefix)


@pytest.fixture
def env(kafka_bootstrap: str, redis_url: str, prefix: str, topics: Topics, tmp_path: Path) -> dict[str, str]:
    create_topics(kafka_bootstrap, topics, PARTITIONS)
    return worker_env(kafka_bootstrap, redis_url, prefix, tmp_path, PARTITIONS)


@pytest.fixture
def watcher(kafka_bootstrap: str, topics: Topics, env: dict[str, str]) -> Iterator[TopicWatcher]:
    watching = TopicWatcher(kafka_bootstrap, output_topics(topics), {})
    yield watching
    watching.close()


@pytest.fixture
def workers(env: dict[str, str]) -> Iterator[tuple[WorkerProcess, WorkerProcess]]:
    pair = (WorkerProcess(env).start(), WorkerProcess(env).start())
    yield pair
    for worker in pair:
        worker.stop()


def _produce_customers(bootstrap: str, topics: Topics, ids: list[str], now: datetime) -> dict[str, list[bytes]]:
    events = {cid: customer_events(cid, now) for cid in ids}
    for cid, records in events.items():
        produce(bootstrap, topics.events, records, {}, key=cid)
    return events


@pytest.mark.parametrize("how", ["SIGTERM", "SIGKILL"])
def test_stopping_one_of_two_workers_moves_its_partitions_and_timers_to_the_other(
    how: str,
    kafka_bootstrap: str,
    topics: Topics,
    watcher: TopicWatcher,
    workers: tuple[WorkerProcess, WorkerProcess],
) -> None:
    survivor, leaving = workers
    by_customer = topics.by_customer

    def split() -> bool:
        mine, theirs = survivor.assigned(by_customer), leaving.assigned(by_customer)
        if not mine or not theirs:
            return False
        return mine.isdisjoint(theirs) and mine | theirs == set(range(PARTITIONS))

    # Both members joined and the group split the partitions between them.
    assert watcher.wait_for(lambda _: split(), TIMEOUT, alive=lambda: survivor.alive() and leaving.alive()), diagnose(
        survivor, leaving
    )
    theirs = leaving.assigned(by_customer) or set()
    now = datetime.now(tz=UTC)
    first_wave = [f"R{n:03d}" for n in range(40)]
    assert {partition_for(cid, PARTITIONS) for cid in first_wave} == set(range(PARTITIONS))
    events = _produce_customers(kafka_bootstrap, topics, first_wave, now)
    expected = expected_action_ids(events, now)
    firsts = {a for a in expected if ":first:" in a}
    assert len(expected) == 2 * len(first_wave) == 2 * len(firsts)
    assert watcher.wait_for(lambda _: firsts <= action_ids(watcher), TIMEOUT), diagnose(survivor, leaving)

    # Each worker sent the first messages of its own customers; the second ones are waiting.
    assert leaving.metrics()['xo_actions_total{channel="wecom_private"}'] > 0
    assert survivor.metrics()['xo_actions_total{channel="wecom_private"}'] > 0
    assert not [r for r in actions(watcher.received) if r.value["channel"] == CHANNELS[1]]
    if how == "SIGTERM":
        assert leaving.stop() == 0
    else:
        leaving.kill()
    stopped_at = datetime.now(tz=UTC)  # from here on only the survivor can create actions

    # More customers while the partitions move.
    second_wave = [f"S{n:03d}" for n in range(20)]
    events.update(_produce_customers(kafka_bootstrap, topics, second_wave, datetime.now(tz=UTC)))
    expected |= expected_action_ids({cid: events[cid] for cid in second_wave}, now)
    assert watcher.wait_for(
        lambda _: expected <= action_ids(watcher),
        TIMEOUT,
        alive=survivor.alive,
    ), diagnose(survivor)
    assert survivor.assigned(by_customer) == set(range(PARTITIONS))

    # The leaving worker's customers got their second message from the survivor, after the stop.
    orphans = {cid for cid in first_wave if partition_for(cid, PARTITIONS) in theirs}
    assert orphans
    late = {
        str(r.value["customer_id"]): datetime.fromisoformat(str(r.value["created_at"]))
        for r in actions(watcher.received)
        if r.value["channel"] == CHANNELS[1]
    }
    assert all(late[cid] > stopped_at for cid in orphans), (stopped_at, late)

    # Read everything produced so far (a marker behind it on every partition), then compare.
    read_to_markers(kafka_bootstrap, watcher, [topics.actions(c) for c in CHANNELS])
    assert_exactly_the_expected_actions(watcher, expected)
