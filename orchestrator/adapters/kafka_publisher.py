"""Publisher over a Kafka producer: enqueue the whole batch (as record batches,
adapters/kafka_batches.py), then await every ack."""

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

# The broker will never take these records, however often they are sent. (aiokafka's own
# ``retriable`` flag is no guide: it marks a request timeout during an outage as final.)
PERMANENT = (MessageSizeTooLargeError, RecordTooLargeError, InvalidTopicError, TopicAuthorizationFailedError)
# Records → the futures of their acknowledgements, once every one is enqueued.
Enqueue = Callable[[Sequence[OutRecord]], Awaitable[list[Awaitable[Any]]]]


class KafkaPublisher:
    """``enqueue``: hands all of a publish's records to the producer at once."""

    def __init__(self, enqueue: Enqueue) -> None:
        self._enqueue = enqueue

    @classmethod
    def batching(cls, producer: Callable[[], AIOKafkaProducer], partitioner: Partitioner) -> KafkaPublisher:
        """Record batches on ``producer()`` (asked at each publish: faust makes its producer when the
        app starts); ``partitioner``: the one the producer was configured with."""
        return cls(lambda records: enqueue(producer(), partitioner, records))

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
