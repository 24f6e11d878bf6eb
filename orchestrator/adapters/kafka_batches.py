"""A publisher's records enqueued as record batches, one per topic-partition, not one send() each.

aiokafka's ``send()`` costs ~9 µs of CPU per record (a coroutine, the partitioner, a future per
record, the accumulator's lookups); building the batches here and handing each over with
``send_batch`` costs ~3 (measured side by side on the embedded broker, 700 records of 400
bytes over 32 partitions). The broker gets the same records: the same keys and values, each on
the partition the producer's partitioner gives its key (the producer's own partition list, as
``send`` reads it), in the order given within each partition, timestamped when appended (as
``send`` does). A batch that fills is handed over and a new one started. A record above the
producer's ``max_request_size`` is refused before anything is handed over, with the error
``send`` raises for it (the handler dead-letters records that large before they get here).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import MessageSizeTooLargeError
from aiokafka.record.default_records import DefaultRecordBatchBuilder

from orchestrator.service.ports import OutRecord

# Above a record's key and value, a batch of it alone takes at most this (header, varints).
_OVERHEAD = 128
# (key, all partitions, available partitions) → partition, as aiokafka's partitioners are called.
Partitioner = Callable[[bytes, list[int], list[int]], int]


async def enqueue(
    producer: AIOKafkaProducer, partitioner: Partitioner, records: Sequence[OutRecord]
) -> list[Awaitable[Any]]:
    """Hand ``records`` to ``producer`` in batches; the futures of their acknowledgements."""
    _refuse_oversized(producer, records)
    partitions: dict[str, list[int]] = {}
    open_batches: dict[tuple[str, int], Any] = {}
    acks: list[Awaitable[Any]] = []
    for record in records:
        key = record.key.encode()
        known = partitions.get(record.topic)
        if known is None:  # waits for the topic's metadata, as send() does
            known = partitions[record.topic] = list(await producer.partitions_for(record.topic))
        where = (record.topic, partitioner(key, known, known))
        batch = open_batches.get(where)
        if batch is None:
            batch = open_batches[where] = producer.create_batch()
        if batch.append(key=key, value=record.value, timestamp=None) is None:  # full: hand it over
            acks.append(await producer.send_batch(batch, where[0], partition=where[1]))
            batch = open_batches[where] = producer.create_batch()
            batch.append(key=key, value=record.value, timestamp=None)  # an empty batch takes any record
    for (topic, partition), batch in open_batches.items():
        acks.append(await producer.send_batch(batch, topic, partition=partition))
    return acks


def _refuse_oversized(producer: AIOKafkaProducer, records: Sequence[OutRecord]) -> None:
    limit = producer._max_request_size  # noqa: SLF001 - what send() checks each record against
    for record in records:
        if len(record.key) * 4 + len(record.value) + _OVERHEAD <= limit:
            continue  # fits whatever its varints take (a key's UTF-8 is at most 4 bytes a character)
        size = DefaultRecordBatchBuilder.estimate_size_in_bytes(record.key.encode(), record.value, [])
        if size > limit:
            raise MessageSizeTooLargeError(
                f"The message is {size} bytes when serialized which is larger than the maximum request size "
                "you have configured with the max_request_size configuration"
            )
