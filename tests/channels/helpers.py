"""A channel worker in the test's event loop, against the real broker and Redis; actions and receipts."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from orchestrator.adapters.kafka_admin import ensure_topics
from orchestrator.channels.contract import FailureReason
from orchestrator.channels.run import ChannelOptions, serve
from orchestrator.channels.senders import Accepted, PermanentSendError, Sender, TransientSendError
from orchestrator.core import Action
from orchestrator.embedded import free_port
from orchestrator.harness import scrape
from orchestrator.service.clock import SystemClock
from orchestrator.service.topics import Topics

CHANNEL = "wecom_private"
TIMEOUT = 30.0


def action_record(
    n: int, *, ttl: timedelta = timedelta(hours=1), customer: str | None = None, staff: str | None = None
) -> bytes:
    now = datetime.now(tz=UTC)
    cid = customer or f"C{n}"
    return orjson.dumps(
        {
            "schema_version": 1,
            "action_id": f"replenish:1:i{n:012x}:remind:{cid}",
            "channel": CHANNEL,
            "customer_id": cid,
            "to": {"wecom_external_id": f"wm-{cid}", **({"staff_id": staff} if staff else {})},
            "content": {"text": f"消息 {n}"},
            "journey": {"id": "replenish", "version": 1, "step": "remind", "variant": None},
            "scenario": "consumption_cycle_ending",
            "created_at": now.isoformat(),
            "not_after": (now + ttl).isoformat(),
        }
    )


@dataclass
class Recording:
    """A provider that records every call; ``script`` says what each call for an action does."""

    calls: list[str] = field(default_factory=list)
    accepted: list[str] = field(default_factory=list)
    script: dict[str, list[str]] = field(default_factory=dict)  # action_id → "transient" | "permanent" | "ok"

    async def send(self, action: Action, body: bytes) -> Accepted:
        self.calls.append(action.action_id)
        steps = self.script.get(action.action_id)
        step = steps.pop(0) if steps else "ok"
        if step == "transient":
            raise TransientSendError("provider busy")
        if step == "permanent":
            raise PermanentSendError(FailureReason.unreachable, "the customer deleted the contact")
        self.accepted.append(action.action_id)
        return Accepted()

    async def close(self) -> None:
        return None


def make_options(bootstrap: str, redis_url: str, prefix: str, **overrides: Any) -> ChannelOptions:
    ensure_topics(bootstrap, dict.fromkeys(channel_topics(prefix), 2), {})
    values: dict[str, Any] = {
        "channel": CHANNEL,
        "sender": "console",
        "bootstrap": bootstrap,
        "redis_url": redis_url,
        "prefix": prefix,
        "web_port": free_port(),
        "fetch_wait_ms": 10,
        "session_timeout_s": 6.0,
        "first_retry_s": 0.01,
        "rate": 1000.0,
        "burst": 1000,
    }
    return ChannelOptions(**{**values, **overrides})


def channel_topics(prefix: str) -> list[str]:
    topics = Topics(prefix)
    return [topics.actions(CHANNEL), f"{topics.actions(CHANNEL)}.dlq", topics.events]


@contextlib.asynccontextmanager
async def channel_worker(
    options: ChannelOptions, sender: Sender | None = None, clock: SystemClock | None = None
) -> AsyncIterator[Callable[[], dict[str, float]]]:
    """A running worker; yields a function that scrapes its metrics."""
    stop, ready = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(serve(options, stop, ready, sender, clock))
    waiter = asyncio.create_task(ready.wait())
    await asyncio.wait({task, waiter}, timeout=TIMEOUT, return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        task.result()  # raises what stopped it
    assert ready.is_set(), "the channel worker got no partitions"
    try:
        yield lambda: scrape(options.web_port)
    finally:
        stop.set()
        await asyncio.wait_for(task, TIMEOUT)


async def produce(bootstrap: str, topic: str, records: list[tuple[str, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for key, value in records:
            await producer.send_and_wait(topic, value, key=key.encode())
    finally:
        await producer.stop()


async def read_until(
    bootstrap: str, topic: str, done: Callable[[list[tuple[str | None, bytes]]], bool], timeout: float = TIMEOUT
) -> list[tuple[str | None, bytes]]:
    """Every record of ``topic`` from the start until ``done(records)`` holds; AssertionError on timeout."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=20)
    await consumer.start()
    got: list[tuple[str | None, bytes]] = []
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        if not partitions:
            await consumer.force_metadata_update()
            partitions = consumer.partitions_for_topic(topic) or set()
        consumer.assign([TopicPartition(topic, p) for p in sorted(partitions)])
        await consumer.seek_to_beginning()
        deadline = asyncio.get_running_loop().time() + timeout
        while not done(got):
            assert asyncio.get_running_loop().time() < deadline, f"timed out; got {len(got)} records on {topic}"
            batches = await consumer.getmany(timeout_ms=200)
            for records in batches.values():
                got.extend((r.key.decode() if r.key else None, r.value or b"") for r in records)
        return got
    finally:
        await consumer.stop()


def receipts(records: list[tuple[str | None, bytes]]) -> list[dict[str, Any]]:
    return [orjson.loads(v) for _, v in records]
