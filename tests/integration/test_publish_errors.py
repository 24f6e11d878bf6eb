"""What the worker's publisher makes of faust's send errors (no servers needed).

faust wraps a KafkaError raised while a record is enqueued (no metadata for the topic
within the request timeout, which is what a broker outage looks like) in ProducerSendError.
The publisher must see it as a TransientError, which the worker retries with backoff,
rather than as an unknown error, on which it exits.
"""

from __future__ import annotations

from collections.abc import Awaitable
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka.errors import KafkaTimeoutError, MessageSizeTooLargeError
from faust.exceptions import ProducerSendError

from orchestrator.adapters.kafka_publisher import KafkaPublisher
from orchestrator.errors import PermanentError, TransientError, is_transient
from orchestrator.faust_app import unwrapping_send_errors
from orchestrator.service.ports import OutRecord
from orchestrator.service.retry import retrying

RECORD = OutRecord("xo.actions.sms", "M1", b"{}")


def _app(error: Exception) -> Any:
    async def send(*_: object) -> Awaitable[Any]:
        raise error

    return SimpleNamespace(producer=SimpleNamespace(send=send))


async def test_a_kafka_error_wrapped_by_faust_is_retried() -> None:
    wrapped = ProducerSendError("Error while sending: KafkaTimeoutError()")
    wrapped.__cause__ = KafkaTimeoutError()
    with pytest.raises(TransientError, match="kafka produce"):
        await KafkaPublisher(unwrapping_send_errors(_app(wrapped))).publish([RECORD])


async def test_a_send_error_without_a_kafka_cause_is_not_retried() -> None:
    with pytest.raises(ProducerSendError):
        await KafkaPublisher(unwrapping_send_errors(_app(ProducerSendError("odd")))).publish([RECORD])


async def test_a_record_the_broker_refuses_for_good_is_a_permanent_error_and_never_retried() -> None:
    calls = []

    async def send(*_: object) -> Awaitable[Any]:
        calls.append(1)
        raise MessageSizeTooLargeError()

    publisher = KafkaPublisher(send)
    with pytest.raises(PermanentError, match="MessageSizeTooLargeError"):
        await retrying(lambda: publisher.publish([RECORD]), "test publish")
    assert calls == [1]
    assert not is_transient(PermanentError("x"))
    assert is_transient(TransientError("x"))
