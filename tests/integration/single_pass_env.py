"""A single pass (service/single_pass.py) on the real embedded broker and Redis, fed by a plain
aiokafka consumer of both input topics, as the worker's batch consumer feeds it."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from orchestrator.adapters.kafka_admin import ensure_topics
from orchestrator.adapters.kafka_partitioner import partition_for
from orchestrator.adapters.kafka_publisher import KafkaPublisher
from orchestrator.adapters.redis_identity import RedisIdentityGraph
from orchestrator.adapters.redis_ops import Client
from orchestrator.adapters.redis_store import RedisStore
from orchestrator.bootstrap import load_world
from orchestrator.service import timers
from orchestrator.service.handler import Handler, InRecord
from orchestrator.service.ports import StateStore
from orchestrator.service.single_pass import Batch, Done, SinglePass
from orchestrator.service.topics import Topics
from orchestrator.settings import Settings
from tests.fixtures.servers import CONFIG

NOW = datetime.now(tz=UTC).replace(microsecond=0)
CHANNEL = "wecom_private"
PARTITIONS = 4


class FixedClock:
    def now(self) -> datetime:
        return NOW

    def monotonic(self) -> float:
        return time.monotonic()


def event(id_: str, type_: str, days_ago: float, data: dict[str, object] | None = None, **identity: str) -> bytes:
    at = (NOW - timedelta(days=days_ago)).isoformat()
    return orjson.dumps({"id": id_, "type": type_, "time": at, "identity": identity, "data": data or {}})


def home(cid: str) -> int:
    return partition_for(cid, PARTITIONS)


@dataclass
class Env:
    topics: Topics
    store: RedisStore
    graph: RedisIdentityGraph
    publisher: KafkaPublisher
    producer: AIOKafkaProducer
    consumer: AIOKafkaConsumer

    def single_pass(self, store: StateStore | None = None) -> SinglePass:
        _, world = load_world(
            Settings(
                xo_journeys_dir=CONFIG / "journeys", xo_templates_dir=CONFIG / "templates", xo_contact_policy="off"
            )
        )
        store = store or self.store
        handler = Handler(world, store, self.publisher, FixedClock(), self.topics).use_identity_graph(self.graph)
        pacer = timers.Pacer(store, FixedClock(), interval=0.0)
        return SinglePass(handler, pacer, home, self.graph, world.identity)

    async def send(self, key: str | None, value: bytes, partition: int | None = None) -> None:
        raw_key = key.encode() if key is not None else None
        await self.producer.send_and_wait(self.topics.events, value, key=raw_key, partition=partition)

    async def run(self, single: SinglePass, done: Callable[[list[Done]], bool], timeout: float = 30.0) -> list[Done]:
        """Feed fetched records of both topics to ``single`` until ``done(results so far)``."""
        results: list[Done] = []
        owned = frozenset(range(PARTITIONS))
        deadline = time.monotonic() + timeout
        while not done(results):
            assert time.monotonic() < deadline, f"not done after {timeout}s: {results}"
            fetched = await self.consumer.getmany(timeout_ms=100)
            arrivals: list[InRecord] = []
            keyed: list[InRecord] = []
            for tp, records in fetched.items():
                into = arrivals if tp.topic == self.topics.events else keyed
                into += [InRecord(r.partition, r.offset, r.key, r.value, time.monotonic()) for r in records]
            results.append(await single.handle(Batch(arrivals, keyed, owned)))
        return results


async def single_pass_env(bootstrap: str, client: Client, prefix: str) -> AsyncIterator[Env]:
    topics = Topics(prefix)
    inputs = {topics.events: PARTITIONS, topics.by_customer: PARTITIONS}
    outputs = {
        topics.actions(CHANNEL): 1,
        topics.scenarios: 1,
        topics.dlq: 1,
        topics.identity: 1,
        topics.journey_log: 1,
    }
    ensure_topics(bootstrap, {**inputs, **outputs}, {})
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, fetch_max_wait_ms=20)
    await producer.start()
    await consumer.start()
    consumer.assign([TopicPartition(t, p) for t in inputs for p in range(PARTITIONS)])
    await consumer.seek_to_beginning()
    store = RedisStore(client, prefix=prefix)
    try:
        yield Env(
            topics, store, RedisIdentityGraph(client, prefix), KafkaPublisher.for_producer(producer), producer, consumer
        )
    finally:
        await consumer.stop()
        await producer.stop()


async def read_to_marker(env: Env, bootstrap: str, topic: str) -> list[dict[str, object]]:
    """Every record of a one-partition topic up to a marker produced now (so nothing later is missed)."""
    await env.producer.send_and_wait(topic, b'{"marker": true}', key=b"marker")
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest")
    await consumer.start()
    got: list[dict[str, object]] = []
    try:
        deadline = time.monotonic() + 30
        while not any(r.get("marker") for r in got):
            assert time.monotonic() < deadline, f"no marker on {topic} after 30s"
            for records in (await consumer.getmany(timeout_ms=200)).values():
                got += [orjson.loads(r.value) for r in records]
        return [r for r in got if not r.get("marker")]
    finally:
        await consumer.stop()
