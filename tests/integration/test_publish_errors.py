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
from aiokafka.errors import KafkaTimeoutError
from faust.exceptions import ProducerSendError

from orchestrator.adapters.kafka_publisher import KafkaPublisher
from orchestrator.errors import TransientError
from orchestrator.faust_app import unwrapping_send_errors
from orchestrator.service.ports import OutRecord

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
