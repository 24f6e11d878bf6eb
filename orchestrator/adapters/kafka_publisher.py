"""Publisher over any Kafka producer: enqueue the whole batch, then await every ack."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from orchestrator.errors import TransientError
from orchestrator.service.ports import OutRecord

# (topic, key, value) → a future of the broker's acknowledgement, as aiokafka's send() returns.
Send = Callable[[str, bytes, bytes], Awaitable[Awaitable[Any]]]


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
        except KafkaError as exc:
            raise TransientError(f"kafka produce: {exc}") from exc
