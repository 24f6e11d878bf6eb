"""``orchestrator report`` reading the journey log a handler produced to a real broker, with receipts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import orjson
import pytest
from aiokafka import AIOKafkaProducer
from redis.asyncio import Redis

from orchestrator.adapters.kafka_admin import ensure_topics
from orchestrator.adapters.kafka_publisher import KafkaPublisher
from orchestrator.adapters.redis_store import RedisStore
from orchestrator.cli import main
from orchestrator.harness import TopicWatcher
from orchestrator.service.ports import OutRecord
from orchestrator.service.topics import Topics
from tests.integration.test_handler_crashes import CHANNEL, NOW, Env, _due_timer_batch, _handler

pytestmark = pytest.mark.integration


@pytest.fixture
async def env(kafka_bootstrap: str, redis_client: Redis, prefix: str) -> AsyncIterator[Env]:
    topics = Topics(prefix)
    names = [topics.actions(CHANNEL), topics.scenarios, topics.journey_log, topics.events]
    ensure_topics(kafka_bootstrap, dict.fromkeys(names, 2), {})
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    watcher = TopicWatcher(kafka_bootstrap, [topics.journey_log], {})
    yield Env(topics, RedisStore(redis_client, prefix=prefix), KafkaPublisher.for_producer(producer), watcher)
    watcher.close()
    await producer.stop()


async def test_the_report_reads_the_log_topic_and_receipts_over_a_window(
    env: Env, kafka_bootstrap: str, prefix: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    await _handler(env).handle(await _due_timer_batch(env))
    assert env.watcher.wait_for(lambda got: len(got) == 1, timeout=30)  # the one input that did something
    [entry] = env.watcher.received
    sent = next(r for r in entry.value["records"] if r["kind"] == "sent")
    reply = {"id": "r1", "type": "message.replied", "time": NOW.isoformat(), "identity": {"member_id": "M1"}}
    reply["data"] = {"action_id": sent["action_id"]}
    await env.publisher.publish([OutRecord(env.topics.events, "M1", orjson.dumps(reply))])
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", kafka_bootstrap)
    monkeypatch.setenv("XO_TOPIC_PREFIX", prefix)

    since = (NOW - timedelta(minutes=1)).isoformat()
    assert main(["report", "--since", since, "--output", "json"]) == 0
    [journey] = orjson.loads(capsys.readouterr().out)
    assert (journey["journey"], journey["entered"]) == ("replenish", 1)
    remind = next(s for s in journey["steps"] if s["step"] == "remind")
    assert (remind["reached"], remind["sent"], remind["replied"]) == (1, 1, 1)

    later = (NOW + timedelta(minutes=1)).isoformat()
    assert main(["report", "--since", later, "--output", "json"]) == 0
    assert orjson.loads(capsys.readouterr().out) == []
