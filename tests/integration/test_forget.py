"""Erasure and export against the real broker and Redis: `orchestrator forget` / `export`."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

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
from orchestrator.core.migrations import load_state
from orchestrator.errors import StateConflict
from orchestrator.harness import TopicWatcher
from orchestrator.service.handler import Handler, InRecord
from orchestrator.service.ports import Commit, Settle
from orchestrator.service.topics import Topics
from orchestrator.settings import Settings
from tests.fixtures.servers import CONFIG

pytestmark = pytest.mark.integration
PHONE = "+8613800000042"


class Clock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()


@dataclass
class Env:
    prefix: str
    topics: Topics
    store: RedisStore
    handler: Handler
    redis: Redis


@pytest.fixture
async def env(
    kafka_bootstrap: str, redis_url: str, redis_client: Redis, prefix: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Env]:
    for name, value in {
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "REDIS_URL": redis_url,
        "XO_TOPIC_PREFIX": prefix,
        "XO_PARTITIONS": "1",
    }.items():
        monkeypatch.setenv(name, value)
    topics = Topics(prefix)
    ensure_topics(kafka_bootstrap, {topics.actions("wecom_private"): 1, topics.scenarios: 1, topics.dlq: 1}, {})
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    _, world = load_world(
        Settings(xo_journeys_dir=CONFIG / "journeys", xo_templates_dir=CONFIG / "templates", xo_contact_policy="off")
    )
    store = RedisStore(redis_client, prefix=prefix)
    yield Env(
        prefix,
        topics,
        store,
        Handler(world, store, KafkaPublisher.for_producer(producer), Clock(), topics),
        redis_client,
    )
    await producer.stop()


def _record(id_: str, days_ago: float, type_: str = "order.paid", **data: Any) -> InRecord:
    payload = {
        "id": id_,
        "type": type_,
        "time": (datetime.now(UTC) - timedelta(days=days_ago)).isoformat(),
        "identity": {"member_id": "M1", "phone": PHONE},
        "data": data or {"order_id": f"O-{id_}", "amount": 199.0, "items": [{"sku": "PRO-900", "qty": 1}]},
    }
    return InRecord(0, 0, b"M1", orjson.dumps(payload), time.monotonic())


async def _cli(*args: str) -> int:
    return await asyncio.to_thread(main, list(args))  # the commands run their own event loop


async def _keys(env: Env) -> set[str]:
    return {k.decode() for k in await env.redis.keys(f"{env.prefix}:*")}


async def test_export_then_forget_removes_the_person_everywhere(
    env: Env, kafka_bootstrap: str, capsys: pytest.CaptureFixture[str]
) -> None:
    await env.handler.handle([_record("e1", 40), _record("e2", 20)])
    await RedisIdentityGraph(env.redis, env.prefix).claim([(f"phone:{PHONE}", "M1")])
    bad = InRecord(0, 1, b"M1", orjson.dumps({"id": "x", "type": "order.paid", "identity": {"phone": PHONE}}), 0.0)
    await env.handler.handle([bad])  # a dead letter that carries their phone
    state = load_state(await env.redis.hget(f"{env.prefix}:{{M1}}:state", "s"))
    assert state.timers  # the purchase cycle's detector timer is indexed
    timer_index = f"{env.prefix}:timers:{{p0}}"
    assert await env.redis.zcard(timer_index) >= 1

    assert await _cli("export", f"phone:{PHONE}") == 0
    exported = json.loads(capsys.readouterr().out)
    assert exported["customer_id"] == "M1"
    assert exported["state"]["profile"]["orders"] == 2
    assert f"phone:{PHONE}" in exported["identifiers"]
    assert len(exported["dead_letters"]) == 1

    assert await _cli("forget", f"phone:{PHONE}") == 0
    out = capsys.readouterr().out
    assert "forgot M1" in out
    assert "1 identity key(s) removed" in out
    assert "1 dead letter(s) hold their data" in out
    assert await _keys(env) == {f"{env.prefix}:{{M1}}:state"}  # outbox, timer index, identity key: gone
    tombstone = load_state(await env.redis.hget(f"{env.prefix}:{{M1}}:state", "s"))
    assert tombstone.forgotten_at is not None
    assert tombstone.profile == type(tombstone.profile)()
    assert tombstone.timers == {}
    assert 0 < await env.redis.ttl(f"{env.prefix}:{{M1}}:state") <= 30 * 86_400
    watcher = TopicWatcher(kafka_bootstrap, [f"{env.prefix}.privacy"], {})
    try:
        assert watcher.wait_for(lambda got: len(got) == 2, timeout=10)
        assert [(r.key, r.value["action"], r.value["customer_id"]) for r in watcher.received] == [
            ("M1", "export", "M1"),
            ("M1", "forget", "M1"),
        ]
    finally:
        watcher.close()


async def test_history_from_before_the_erasure_is_not_folded_back(env: Env) -> None:
    await env.handler.handle([_record("e1", 40)])
    assert await _cli("forget", "M1", "--no-dlq") == 0
    await env.handler.handle([_record("e1", 40), _record("late-upload", 10)])  # redelivered / late: dropped
    state = load_state(await env.redis.hget(f"{env.prefix}:{{M1}}:state", "s"))
    assert state.profile.orders == 0
    await env.handler.handle([_record("new", -0.001)])  # a new purchase after the erasure is new data
    state = load_state(await env.redis.hget(f"{env.prefix}:{{M1}}:state", "s"))
    assert state.profile.orders == 1
    assert [p.order_id for p in state.profile.purchases] == ["O-new"]


@dataclass
class ForgetBetweenLoadAndCommit:
    """The person is erased while the worker holds their state in memory."""

    inner: RedisStore
    fired: bool = False

    async def load(self, customer_ids: Sequence[str]):  # type: ignore[no-untyped-def]
        return await self.inner.load(customer_ids)

    async def commit(self, commits: Sequence[Commit]) -> list[str]:
        if not self.fired:
            self.fired = True
            assert await _cli("forget", "M1", "--no-dlq") == 0
        return await self.inner.commit(commits)

    async def settle(self, settles: Sequence[Settle]) -> None:
        await self.inner.settle(settles)


async def test_a_forget_racing_a_live_event_wins(env: Env) -> None:
    await env.handler.handle([_record("e1", 40)])
    racing = Handler(
        env.handler.world,
        ForgetBetweenLoadAndCommit(env.store),
        env.handler.publisher,  # type: ignore[arg-type]
        Clock(),
        env.topics,
    )
    with pytest.raises(StateConflict):  # the worker's commit loses; its batch is retried
        await racing.handle([_record("e2", 1)])
    await racing.handle([_record("e2", 1)])  # the retry: an event from before the erasure
    state = load_state(await env.redis.hget(f"{env.prefix}:{{M1}}:state", "s"))
    assert state.forgotten_at is not None
    assert state.profile.orders == 0
    assert await env.redis.exists(f"{env.prefix}:{{M1}}:outbox") == 0
