"""What the publisher makes of send errors (no servers needed).

A KafkaError raised while a record is enqueued (no metadata for the topic within the request
timeout, which is what a broker outage looks like) must be a TransientError, which the worker
retries with backoff, rather than an unknown error, on which it exits. The worker enqueues
record batches on aiokafka's producer itself (not through faust's send, which wrapped such
errors in its ProducerSendError), so aiokafka's errors reach the publisher as they are.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

import pytest
from aiokafka.errors import KafkaTimeoutError, MessageSizeTooLargeError

from orchestrator.adapters.kafka_partitioner import CachedPartitioner
from orchestrator.adapters.kafka_publisher import KafkaPublisher
from orchestrator.errors import PermanentError, TransientError, is_transient
from orchestrator.service.ports import OutRecord
from orchestrator.service.retry import retrying

RECORD = OutRecord("xo.actions.sms", "M1", b"{}")


async def test_a_kafka_error_while_enqueueing_is_retried() -> None:
    async def enqueue(*_: object) -> list[Awaitable[Any]]:
        raise KafkaTimeoutError()

    with pytest.raises(TransientError, match="kafka produce"):
        await KafkaPublisher(enqueue).publish([RECORD])


async def test_a_batch_whose_topic_has_no_metadata_is_retried() -> None:
    class NoMetadata:
        async def partitions_for(self, topic: str) -> set[int]:
            raise KafkaTimeoutError()

        _max_request_size = 1_048_576

    # A stand-in for aiokafka's producer: only what a publish asks of it before the metadata fails.
    publisher = KafkaPublisher.batching(NoMetadata, CachedPartitioner())
    with pytest.raises(TransientError, match="kafka produce"):
        await publisher.publish([RECORD])


async def test_a_record_the_broker_refuses_for_good_is_a_permanent_error_and_never_retried() -> None:
    calls = []

    async def enqueue(*_: object) -> list[Awaitable[Any]]:
        calls.append(1)
        raise MessageSizeTooLargeError()

    publisher = KafkaPublisher(enqueue)
    with pytest.raises(PermanentError, match="MessageSizeTooLargeError"):
        await retrying(lambda: publisher.publish([RECORD]), "test publish")
    assert calls == [1]
    assert not is_transient(PermanentError("x"))
    assert is_transient(TransientError("x"))
