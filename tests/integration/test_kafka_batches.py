"""The publisher's record batches on the embedded broker: the records send() would produce, on
the partitions it would choose, in the same order within each partition."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from orchestrator.adapters.kafka_admin import ensure_topics
from orchestrator.adapters.kafka_partitioner import partition_for
from orchestrator.adapters.kafka_publisher import KafkaPublisher
from orchestrator.errors import PermanentError
from orchestrator.service.ports import OutRecord

pytestmark = pytest.mark.integration
PARTITIONS = 8
Seen = list[tuple[int, bytes | None, bytes | None]]  # (partition, key, value) in partition order


@pytest.fixture
async def producer(kafka_bootstrap: str) -> AsyncIterator[AIOKafkaProducer]:
    started = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await started.start()
    yield started
    await started.stop()


def _records(topic: str) -> list[OutRecord]:
    """Keys that repeat (many records per partition), non-ASCII ones, and values large enough to
    fill aiokafka's 16 kB batches several times over."""
    keys = [f"M{n % 37:05d}" for n in range(300)] + ["顾客:王", "wecom_external_id:wmA1"]
    return [OutRecord(topic, key, f"{n}:{key}:".encode() + b"x" * (n * 97 % 3000)) for n, key in enumerate(keys)]


async def _read(bootstrap: str, topic: str, count: int) -> Seen:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest")
    await consumer.start()
    try:
        consumer.assign([TopicPartition(topic, p) for p in range(PARTITIONS)])
        seen: Seen = []
        async with asyncio.timeout(60):
            while len(seen) < count:
                fetched = await consumer.getmany(timeout_ms=200)
                for tp, records in sorted(fetched.items()):
                    seen += [(tp.partition, r.key, r.value) for r in records]
        return sorted(seen, key=lambda s: s[0])  # stable: each partition's records keep their order
    finally:
        await consumer.stop()


async def test_batches_carry_what_one_send_per_record_carries(
    kafka_bootstrap: str, prefix: str, producer: AIOKafkaProducer
) -> None:
    each, batched = f"{prefix}.each", f"{prefix}.batched"
    ensure_topics(kafka_bootstrap, {each: PARTITIONS, batched: PARTITIONS}, {})
    records = _records(each)
    for record in records:  # the reference: aiokafka's send(), one record at a time
        await (await producer.send(each, record.value, key=record.key.encode()))
    await KafkaPublisher.for_producer(producer).publish([OutRecord(batched, r.key, r.value) for r in records])
    expected, got = (
        await _read(kafka_bootstrap, each, len(records)),
        await _read(kafka_bootstrap, batched, len(records)),
    )
    assert got == expected
    assert len({partition for partition, _, _ in got}) == PARTITIONS


async def test_a_record_above_the_request_limit_is_refused_for_good_and_nothing_is_produced(
    kafka_bootstrap: str, prefix: str
) -> None:
    topic = f"{prefix}.limit"
    ensure_topics(kafka_bootstrap, {topic: PARTITIONS}, {})
    small = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, max_request_size=20_000)
    await small.start()
    try:
        records = [OutRecord(topic, "M1", b"fits"), OutRecord(topic, "M2", b"x" * 30_000)]
        with pytest.raises(PermanentError, match="MessageSizeTooLargeError"):
            await KafkaPublisher.for_producer(small).publish(records)
        await KafkaPublisher.for_producer(small).publish([records[0], OutRecord(topic, "M2", b"marker")])
    finally:
        await small.stop()
    # Had the refused publish produced anything, it would be read before the later publish's records.
    assert await _read(kafka_bootstrap, topic, 2) == sorted(
        [(partition_for("M1", PARTITIONS), b"M1", b"fits"), (partition_for("M2", PARTITIONS), b"M2", b"marker")]
    )
