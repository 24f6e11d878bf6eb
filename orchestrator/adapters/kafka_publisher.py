"""Publisher over any Kafka producer: enqueue the whole batch, then await every ack.

Over an aiokafka producer (``for_producer``, ``batching``) the records go as record batches
(adapters/kafka_batches.py); over a ``Send`` one send per record.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import (
    InvalidTopicError,
    KafkaError,
    MessageSizeTooLargeError,
    RecordTooLargeError,
    TopicAuthorizationFailedError,
)

from orchestrator.adapters.kafka_batches import Partitioner, enqueue
from orchestrator.adapters.kafka_partitioner import CachedPartitioner
from orchestrator.errors import PermanentError, TransientError
from orchestrator.service.ports import OutRecord

# (topic, key, value) → a future of the broker's acknowledgement, as aiokafka's send() returns.
Send = Callable[[str, bytes, bytes], Awaitable[Awaitable[Any]]]
# The broker will never take these records, however often they are sent. (aiokafka's own
# ``retriable`` flag is no guide: it marks a request timeout during an outage as final.)
PERMANENT = (MessageSizeTooLargeError, RecordTooLargeError, InvalidTopicError, TopicAuthorizationFailedError)


# Records → the futures of their acknowledgements, once every one is enqueued.
Enqueue = Callable[[Sequence[OutRecord]], Awaitable[list[Awaitable[Any]]]]


class KafkaPublisher:
    """``send``: one call per record; or ``enqueue``: all of a publish's records at once."""

    def __init__(self, send: Send | None = None, *, enqueue: Enqueue | None = None) -> None:
        if enqueue is None:
            if send is None:
                raise TypeError("KafkaPublisher needs send or enqueue")
            enqueue = _each(send)
        self._enqueue = enqueue

    @classmethod
    def batching(cls, producer: Callable[[], AIOKafkaProducer], partitioner: Partitioner) -> KafkaPublisher:
        """Record batches on ``producer()`` (asked at each publish: faust makes its producer when the
        app starts); ``partitioner``: the one the producer was configured with."""
        return cls(enqueue=lambda records: enqueue(producer(), partitioner, records))

    @classmethod
    def for_producer(cls, producer: AIOKafkaProducer) -> KafkaPublisher:
        """Over a producer with aiokafka's default partitioner (CachedPartitioner gives its partitions)."""
        return cls.batching(lambda: producer, CachedPartitioner())

    async def publish(self, records: Sequence[OutRecord]) -> None:
        if not records:
            return
        try:
            futures = await self._enqueue(records)
            await asyncio.gather(*futures)
        except PERMANENT as exc:
            raise PermanentError(f"kafka produce refused: {type(exc).__name__}: {exc}") from exc
        except KafkaError as exc:
            raise TransientError(f"kafka produce: {exc}") from exc


def _each(send: Send) -> Enqueue:
    async def each(records: Sequence[OutRecord]) -> list[Awaitable[Any]]:
        return [await send(r.topic, r.key.encode(), r.value) for r in records]

    return each
