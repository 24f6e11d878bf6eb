"""Publisher over any Kafka producer: enqueue the whole batch, then await every ack."""

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

from orchestrator.errors import PermanentError, TransientError
from orchestrator.service.ports import OutRecord

# (topic, key, value) → a future of the broker's acknowledgement, as aiokafka's send() returns.
Send = Callable[[str, bytes, bytes], Awaitable[Awaitable[Any]]]
# The broker will never take these records, however often they are sent. (aiokafka's own
# ``retriable`` flag is no guide: it marks a request timeout during an outage as final.)
PERMANENT = (MessageSizeTooLargeError, RecordTooLargeError, InvalidTopicError, TopicAuthorizationFailedError)


class KafkaPublisher:
    def __init__(self, send: Send) -> None:
        self._send = send

    @classmethod
    def for_producer(cls, producer: AIOKafkaProducer) -> KafkaPublisher:
        return cls(lambda topic, key, value: producer.send(topic, value, key=key))

    async def publish(self, records: Sequence[OutRecord]) -> None:
        if not records:
            return
        try:
            futures = [await self._send(r.topic, r.key.encode(), r.value) for r in records]
            await asyncio.gather(*futures)
        except PERMANENT as exc:
            raise PermanentError(f"kafka produce refused: {type(exc).__name__}: {exc}") from exc
        except KafkaError as exc:
            raise TransientError(f"kafka produce: {exc}") from exc
