"""The journey log through the outbox: one record per input on ``<prefix>.journey-log``, as reliable as actions."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import orjson
import pytest
from aiokafka import AIOKafkaProducer
from redis.asyncio import Redis

from orchestrator.adapters.kafka_admin import ensure_topics
from orchestrator.adapters.kafka_publisher import KafkaPublisher
from orchestrator.adapters.redis_store import RedisStore
from orchestrator.harness import TopicWatcher
from orchestrator.service.handler import InRecord
from orchestrator.service.ports import OutRecord
from orchestrator.service.topics import Topics
from tests.integration.test_handler_crashes import CHANNEL, Crash, CrashingStore, Env, _due_timer_batch, _handler

pytestmark = pytest.mark.integration


@pytest.fixture
async def env(kafka_bootstrap: str, redis_client: Redis, prefix: str) -> AsyncIterator[Env]:
    topics = Topics(prefix)
    ensure_topics(kafka_bootstrap, {topics.actions(CHANNEL): 1, topics.scenarios: 1, topics.journey_log: 1}, {})
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    watcher = TopicWatcher(kafka_bootstrap, [topics.journey_log], {})
    yield Env(topics, RedisStore(redis_client, prefix=prefix), KafkaPublisher.for_producer(producer), watcher)
    watcher.close()
    await producer.stop()


async def _log_after_marker(env: Env) -> list[bytes]:
    await env.publisher.publish([OutRecord(env.topics.journey_log, "marker", b'{"marker": true}')])
    assert env.watcher.wait_for(lambda got: any(r.value.get("marker") for r in got), timeout=30)
    return [orjson.dumps(r.value) for r in env.watcher.received if not r.value.get("marker")]


async def test_one_log_record_per_input_with_its_records_in_order(env: Env) -> None:
    batch = await _due_timer_batch(env)  # two events (nothing logged), then the cycle timer: entry and send
    await _handler(env).handle(batch)
    [raw] = await _log_after_marker(env)
    entry = orjson.loads(raw)
    assert entry["input"].startswith("timer:cycle:protein@")
    kinds = [(r["kind"], r.get("step")) for r in entry["records"]]
    assert kinds[:3] == [("entered", None), ("step", "remind"), ("sent", "remind")]
    assert all(r["customer_id"] == "M1" and r["v"] == 1 for r in entry["records"])


@pytest.mark.parametrize(("crash", "copies"), [("before_commit", 1), ("after_commit", 1), ("before_settle", 2)])
async def test_a_crash_gives_the_same_log_record_as_the_actions_get(env: Env, crash: str, copies: int) -> None:
    batch = await _due_timer_batch(env)
    with pytest.raises(Crash):
        await _handler(env, CrashingStore(env.store, **{crash: True})).handle(batch)
    await _handler(env).handle([InRecord(0, 1, r.key, r.value, time.monotonic()) for r in batch])
    records = await _log_after_marker(env)
    assert len(records) == copies
    assert all(r == records[0] for r in records)  # re-produced from the outbox, byte for byte
