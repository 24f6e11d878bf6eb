"""The commit order under crashes: the handler with real Redis and a real broker.

A crash is injected at each step of the commit order (service/handler.py); the batch is
then redelivered to a healthy handler, as Kafka would after a restart. Whatever the
crash point, exactly one action exists per occurrence, re-produced copies are identical,
and nothing is left pending. Every test runs on a single Redis and on a Redis Cluster of three
masters (the ``store_client`` fixture).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from aiokafka import AIOKafkaProducer

from orchestrator.adapters.kafka_admin import ensure_topics
from orchestrator.adapters.kafka_publisher import KafkaPublisher
from orchestrator.adapters.redis_ops import Client
from orchestrator.adapters.redis_store import RedisStore
from orchestrator.bootstrap import load_world
from orchestrator.harness import TopicWatcher
from orchestrator.service.handler import Handler, InRecord
from orchestrator.service.ports import Commit, OutRecord, Publisher, Settle, StateStore
from orchestrator.service.timers import timer_record
from orchestrator.service.topics import Topics
from orchestrator.settings import Settings
from tests.fixtures.servers import CONFIG

pytestmark = pytest.mark.integration
NOW = datetime.now(tz=UTC).replace(microsecond=0)
CHANNEL = "wecom_private"


class Crash(Exception):
    """Stands for the process dying at this point."""


class FixedClock:
    def now(self) -> datetime:
        return NOW

    def monotonic(self) -> float:
        return time.monotonic()


@dataclass
class CrashingStore:
    inner: StateStore
    before_commit: bool = False
    after_commit: bool = False
    before_settle: bool = False

    async def load(self, customer_ids: Sequence[str]):  # type: ignore[no-untyped-def]
        return await self.inner.load(customer_ids)

    async def commit(self, commits: Sequence[Commit]) -> list[str]:
        if self.before_commit:
            raise Crash
        result = await self.inner.commit(commits)
        if self.after_commit:
            raise Crash
        return result

    async def settle(self, settles: Sequence[Settle]) -> None:
        if self.before_settle:
            raise Crash
        await self.inner.settle(settles)

    async def due_timers(self, partitions, now_ms, limit):  # type: ignore[no-untyped-def]
        return await self.inner.due_timers(partitions, now_ms, limit)

    async def lease_timers(self, timers, until_ms):  # type: ignore[no-untyped-def]
        await self.inner.lease_timers(timers, until_ms)


@dataclass
class Env:
    topics: Topics
    store: RedisStore
    publisher: Publisher
    watcher: TopicWatcher


@pytest.fixture
async def env(kafka_bootstrap: str, store_client: Client, prefix: str) -> AsyncIterator[Env]:
    topics = Topics(prefix)
    ensure_topics(kafka_bootstrap, {topics.actions(CHANNEL): 1, topics.scenarios: 1, topics.dlq: 1}, {})
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    watcher = TopicWatcher(kafka_bootstrap, [topics.actions(CHANNEL)], {})
    yield Env(topics, RedisStore(store_client, prefix=prefix), KafkaPublisher.for_producer(producer), watcher)
    watcher.close()
    await producer.stop()


def _event(id_: str, type_: str, days_ago: float, data: dict[str, object], **identity: str) -> InRecord:
    payload = {
        "id": id_,
        "type": type_,
        "time": (NOW - timedelta(days=days_ago)).isoformat(),
        "identity": {"member_id": "M1", **identity},
        "data": data,
    }
    return InRecord(0, 0, b"M1", orjson.dumps(payload), time.monotonic())


def _handler(env: Env, store: StateStore | None = None) -> Handler:
    _, world = load_world(
        Settings(xo_journeys_dir=CONFIG / "journeys", xo_templates_dir=CONFIG / "templates", xo_contact_policy="off")
    )
    return Handler(world, store or env.store, env.publisher, FixedClock(), env.topics)


async def _due_timer_batch(env: Env) -> list[InRecord]:
    await _handler(env).handle(
        [
            _event("e1", "customer.registered", 40, {"name": "王女士"}, wecom_external_id="wm1"),
            _event("e2", "order.paid", 27, {"order_id": "O1", "items": [{"sku": "PRO-900", "qty": 1}]}),
        ]
    )
    [due] = await env.store.due_timers([0], int(NOW.timestamp() * 1000), 10)
    record = timer_record(env.topics, due)
    return [InRecord(0, 1, record.key.encode(), record.value, time.monotonic())]


async def _actions_after_marker(env: Env) -> list[dict[str, object]]:
    """Every action on the topic, read up to a marker produced after the last handler call."""
    await env.publisher.publish([OutRecord(env.topics.actions(CHANNEL), "marker", b'{"marker": true}')])
    assert env.watcher.wait_for(lambda got: any(r.value.get("marker") for r in got), timeout=30)
    return [r.value for r in env.watcher.received if not r.value.get("marker")]


@pytest.mark.parametrize(
    ("crash", "copies"),
    [("before_commit", 1), ("after_commit", 1), ("before_settle", 2)],
)
async def test_a_crash_at_any_step_gives_one_action_per_occurrence(env: Env, crash: str, copies: int) -> None:
    batch = await _due_timer_batch(env)
    with pytest.raises(Crash):
        await _handler(env, CrashingStore(env.store, **{crash: True})).handle(batch)
    report = await _handler(env).handle(batch)  # redelivery after the restart
    actions = await _actions_after_marker(env)
    assert len(actions) == copies
    assert all(a == actions[0] for a in actions)  # a re-produced action is byte-for-byte the same one
    assert actions[0]["customer_id"] == "M1"
    assert actions[0]["content"] == {
        "text": "王女士，您上次买的乳清蛋白粉 900g，大约还能用 3 天，需要的话我帮您留一份，老客户今天下单包邮~"
    }
    # the action, the scenario hit and the input's journey-log entry
    assert report.republished == (0 if crash == "before_commit" else 3)
    loaded = (await env.store.load(["M1"]))["M1"]
    assert loaded.outbox == {}
    assert loaded.state is not None
    assert loaded.state.timers == {}
    assert await env.store.due_timers([0], int((NOW + timedelta(days=1)).timestamp() * 1000), 10) == []


async def test_a_crash_after_commit_is_recovered_by_the_sweep_timer_too(env: Env) -> None:
    batch = await _due_timer_batch(env)
    with pytest.raises(Crash):
        await _handler(env, CrashingStore(env.store, after_commit=True)).handle(batch)
    # The records never come back (say their offsets were committed): the sweep timer fires instead.
    later_ms = int((NOW + timedelta(minutes=1)).timestamp() * 1000)
    due = await env.store.due_timers([0], later_ms, 10)
    # The fired cycle timer's index entry is still there too (it is dropped at settle): a no-op when it fires.
    assert sorted(r.timer_id for r in due) == ["cycle:protein", "outbox"]
    records = [timer_record(env.topics, ref) for ref in due]
    report = await _handler(env).handle([InRecord(0, 2, b"M1", r.value, time.monotonic()) for r in records])
    assert report.duplicates == 2
    assert report.republished == 3  # the action, the scenario hit and the journey-log entry
    [action] = await _actions_after_marker(env)
    assert str(action["action_id"]).endswith(":remind:M1")
    assert await env.store.due_timers([0], later_ms, 10) == []


async def test_bad_records_go_to_the_dlq_and_good_ones_still_commit(env: Env, kafka_bootstrap: str) -> None:
    ensure_topics(kafka_bootstrap, {env.topics.dlq: 1}, {})
    good = _event("e1", "order.paid", 1, {"order_id": "O1", "items": [{"sku": "PRO-900", "qty": 1}]})
    bad = InRecord(0, 7, b"M1", b'{"id": 1}', time.monotonic())
    report = await _handler(env).handle([bad, good])
    assert report.rejected == {"schema": 1}
    assert report.events == {"order.paid": 1}
    dlq = TopicWatcher(kafka_bootstrap, [env.topics.dlq], {})
    try:
        assert dlq.wait_for(lambda got: len(got) == 1, timeout=30)
        [record] = dlq.received
        assert record.value["payload"] == '{"id": 1}'
        assert str(record.value["reason"]).startswith("invalid event: id: Input should be a valid string")
        assert record.value["source"] == f"{env.topics.by_customer}[0]@7"
    finally:
        dlq.close()
    state = (await env.store.load(["M1"]))["M1"].state
    assert state is not None
    assert "cycle:protein" in state.timers
