"""``orchestrator inspect ID`` on a live customer: state from real Redis, log records from the real broker."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import orjson
import pytest
from aiokafka import AIOKafkaProducer
from redis.asyncio import Redis

from orchestrator.adapters.kafka_admin import ensure_topics
from orchestrator.adapters.kafka_publisher import KafkaPublisher
from orchestrator.adapters.redis_identity import RedisIdentityGraph
from orchestrator.adapters.redis_store import RedisStore
from orchestrator.bootstrap import load_world
from orchestrator.cli import main
from orchestrator.harness import TopicWatcher
from orchestrator.service.handler import Handler, InRecord
from orchestrator.service.timers import timer_record
from orchestrator.service.topics import Topics
from orchestrator.settings import Settings
from tests.integration.test_handler_crashes import NOW, Env, FixedClock, _event

pytestmark = pytest.mark.integration
HERE = Path(__file__).resolve().parent
SETTINGS = {"XO_JOURNEYS_DIR": str(HERE / "two_waits"), "XO_TEMPLATES_DIR": str(HERE / "templates")}


@pytest.fixture
async def env(kafka_bootstrap: str, redis_client: Redis, prefix: str) -> AsyncIterator[Env]:
    topics = Topics(prefix)
    ensure_topics(
        kafka_bootstrap, dict.fromkeys([topics.actions("wecom_private"), topics.scenarios, topics.journey_log], 1), {}
    )
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    watcher = TopicWatcher(kafka_bootstrap, [topics.journey_log], {})
    yield Env(topics, RedisStore(redis_client, prefix=prefix), KafkaPublisher.for_producer(producer), watcher)
    watcher.close()
    await producer.stop()


@pytest.fixture
def cli_env(redis_url: str, kafka_bootstrap: str, prefix: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The environment an operator's shell would have; returns the prefix."""
    for name, value in {**SETTINGS, "REDIS_URL": redis_url, "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("XO_TOPIC_PREFIX", prefix)
    return prefix


async def test_inspect_shows_the_waiting_instance_its_timer_and_the_log(
    env: Env, redis_client: Redis, cli_env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    world = load_world(Settings(xo_journeys_dir=HERE / "two_waits", xo_templates_dir=HERE / "templates"))[1]
    handler = Handler(world, env.store, env.publisher, FixedClock(), env.topics)
    await handler.handle(
        [
            _event("e1", "customer.registered", 40, {"name": "王女士"}, wecom_external_id="wm1"),
            _event("e2", "order.paid", 27, {"order_id": "O1", "items": [{"sku": "PRO-900", "qty": 1}]}),
        ]
    )
    [due] = await env.store.due_timers([0], int(NOW.timestamp() * 1000), 10)
    record = timer_record(env.topics, due)
    await handler.handle([InRecord(0, 1, record.key.encode(), record.value, time.monotonic())])
    assert env.watcher.wait_for(lambda got: len(got) == 1, timeout=30)
    await RedisIdentityGraph(redis_client, cli_env).claim([("wecom_external_id:wm1", "M1")])

    assert await asyncio.to_thread(main, ["inspect", "wecom_external_id:wm1"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("M1 王女士 (state v3)")
    until = (NOW + timedelta(hours=1)).isoformat()  # the wait is 1h from the processing time
    assert f"two_waits v1 at pause: waits for time until {until}" in out
    assert "scenarios: consumption_cycle_ending at " in out
    assert "outbox (not yet produced): empty" in out
    assert "two_waits v1 entered" in out
    assert "two_waits v1 sent first wecom_private" in out

    assert await asyncio.to_thread(main, ["inspect", "M1", "--output", "json"]) == 0
    view = orjson.loads(capsys.readouterr().out)
    [instance] = view["instances"]
    assert (instance["journey"], instance["step"], instance["waits_for"]) == ("two_waits", "pause", "time")
    assert instance["until"] == view["timers"][f"wait:{instance['instance']}"]
    assert [r["kind"] for r in view["log"]][:3] == ["entered", "step", "sent"]

    assert await asyncio.to_thread(main, ["inspect", "nobody"]) == 1
    assert capsys.readouterr().out == "nobody: nothing stored\n"
