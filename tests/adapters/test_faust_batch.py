"""The private parts of faust-streaming and aiokafka that orchestrator/faust_batch.py relies on.

faust_batch.BatchConsumer replaces faust's drain loop and leans on a few of its internals.
These tests fail if an upgrade moves or reshapes them, before a worker would misbehave;
the worker tests (tests/e2e, tests/integration/test_rebalance.py) then check the behaviour.
"""

# ruff: noqa: SLF001 - these tests exist to read faust's private parts the subclass relies on
from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from typing import Any

import aiokafka
import faust
import mode
from faust.app.base import App
from faust.transport import consumer as faust_consumer
from faust.transport.drivers import TRANSPORTS
from faust.transport.drivers import aiokafka as faust_aiokafka

from orchestrator import faust_batch


def _params(function: Callable[..., Any]) -> list[str]:
    return list(inspect.signature(function).parameters)


def test_the_versions_these_pins_were_written_for() -> None:
    # A new version is not wrong by itself: re-read the code the tests below name, then move this pin.
    assert (faust.__version__, aiokafka.__version__) == ("0.15.3", "0.14.0")


def test_the_drain_loop_faust_runs_and_the_subclass_replaces() -> None:
    assert issubclass(faust_batch.BatchConsumer, faust_aiokafka.Consumer)
    assert _params(faust_consumer.Consumer._drain_messages) == ["self", "fetcher"]
    # The Fetcher service runs the app consumer's drain loop, handing itself over.
    assert "consumer._drain_messages(self)" in inspect.getsource(faust_consumer.Fetcher._fetcher.fun)
    assert inspect.iscoroutinefunction(faust_batch.BatchConsumer._drain_messages)


def test_fetching_and_the_flow_control_it_uses() -> None:
    wait = faust_consumer.Consumer._wait_next_records
    assert _params(wait) == ["self", "timeout"]
    source = inspect.getsource(wait)
    assert "return records, active_partitions" in source
    assert "self.can_resume_flow" in source  # blocks while a rebalance stopped the flow
    assert faust_consumer.Consumer.__annotations__["flow_active"] in (bool, "bool")  # a plain flag
    assert "self.flow_active = False" in inspect.getsource(faust_consumer.Consumer.stop_flow)
    assert _params(faust_consumer.Consumer.perform_seek) == ["self"]
    # faust's own getmany seeks back when it fetched while the flow was stopped: so does the subclass.
    assert "await self.perform_seek()" in inspect.getsource(faust_consumer.Consumer.getmany)
    assert faust_aiokafka.Consumer.consumer_stopped_errors == (aiokafka.errors.ConsumerStoppedError,)


def test_commits_and_the_waits_before_revoking_and_stopping() -> None:
    assert _params(faust_consumer.ThreadDelegateConsumer._commit) == ["self", "offsets"]
    assert _params(faust_consumer.ThreadDelegateConsumer.topic_partitions) == ["self", "topic"]
    assert _params(faust_consumer.Consumer.wait_empty) == ["self"]
    # Revoking waits for the consumer to be empty (the batch in hand) before the partitions go.
    revoked = inspect.getsource(App._on_partitions_revoked)
    assert revoked.index("consumer.stop_flow") < revoked.index("_consumer_wait_empty")
    assert "consumer.wait_empty()" in inspect.getsource(App._consumer_wait_empty)
    # Stopping cancels the drain loop (the subclass finishes its batch), then waits for it.
    stopping = inspect.getsource(App._stop_consumer)
    assert stopping.index("_stop_fetcher") < stopping.index("_consumer_wait_empty")


def test_the_service_flag_and_the_fetch_wait_the_subclass_sets() -> None:
    assert "_stopped" in inspect.getsource(mode.Service.__init__)
    create = faust_aiokafka.AIOKafkaConsumerThread._create_worker_consumer
    assert _params(create) == ["self", "transport"]
    assert "_fetch_max_wait_ms" in inspect.getsource(aiokafka.AIOKafkaConsumer.__init__)


def test_the_transport_is_registered_under_its_scheme() -> None:
    assert TRANSPORTS["xokafka"] == "orchestrator.faust_batch:_Transport"
    assert faust_batch._Transport.Consumer is faust_batch.BatchConsumer


class _ScriptedConsumer:
    """The parts of faust's consumer the drain loop touches, following a script of fetches."""

    consumer_stopped_errors: tuple[type[BaseException], ...] = ()
    _seek_back = faust_batch.BatchConsumer._seek_back

    def __init__(self, fetches: list[tuple[str, bool]], seeks: list[bool]) -> None:
        self.app = _App()
        self._stopped = asyncio.Event()
        self.should_stop = False
        self.flow_active = True
        self.fetches = fetches  # (records, whether the flow is active when they arrive)
        self.seek_script = seeks
        self.seeks: list[bool] = []
        self.ran: list[str] = []

    async def _wait_next_records(self, timeout: float) -> tuple[dict[str, list[int]] | None, set[str] | None]:
        if not self.fetches:
            return None, None
        name, self.flow_active = self.fetches.pop(0)
        return {name: [1]}, {name}

    async def perform_seek(self) -> None:
        ok = self.seek_script.pop(0)
        self.seeks.append(ok)
        if not ok:
            raise aiokafka.errors.IllegalStateError("No current assignment for partition events-0")

    async def _run(self, runner: Any, records: dict[str, list[int]], active: frozenset[str]) -> None:
        self.ran.extend(records)


class _App:
    pass


def test_a_seek_back_that_meets_a_moved_assignment_is_retried_and_no_record_is_used_before_it() -> None:
    # A rebalance stops the flow while records are in flight; the seek back fails because the
    # assignment moved again (seen on a real broker: a worker crashed on it). The next fetch's
    # records came from past the dropped ones, so they are dropped too until a seek succeeds.
    consumer = _ScriptedConsumer(fetches=[("a", True), ("b", False), ("c", True), ("d", True)], seeks=[False, True])
    fetcher = type("Fetcher", (), {"_stopped": asyncio.Event()})()
    faust_batch.attach(consumer.app, faust_batch.Runner(call=None, guard=None, wait_s=0.01))  # type: ignore[arg-type]
    asyncio.run(faust_batch.BatchConsumer._drain_messages(consumer, fetcher))  # type: ignore[arg-type]
    assert consumer.seeks == [False, True]
    assert consumer.ran == ["a", "d"]


def test_the_seek_to_committed_offsets_the_subclass_wraps() -> None:
    # faust's consumer delegates to its consumer thread, which calls aiokafka's seek per partition.
    assert "self._thread.seek_to_committed()" in inspect.getsource(
        faust_consumer.ThreadDelegateConsumer.seek_to_committed
    )
    assert "self._ensure_consumer().seek_to_committed" in inspect.getsource(
        faust_aiokafka.AIOKafkaConsumerThread.seek_to_committed
    )
    assert "IllegalStateError" in inspect.getsource(aiokafka.AIOKafkaConsumer.seek_to_committed)


class _RevokedThread:
    async def seek_to_committed(self) -> dict[Any, int]:
        raise aiokafka.errors.IllegalStateError("No current assignment for partition events-0")


def test_a_partition_revoked_during_a_seek_to_committed_offsets_does_not_crash_the_worker() -> None:
    consumer = faust_batch.BatchConsumer.__new__(faust_batch.BatchConsumer)
    consumer._thread = _RevokedThread()  # type: ignore[assignment]
    assert asyncio.run(consumer.seek_to_committed()) == {}


def test_the_producer_the_publisher_hands_record_batches_to() -> None:
    # faust_app.producer_of: faust's Producer keeps the aiokafka producer it starts, configured
    # with the app's producer_partitioner, which the publisher is given too.
    assert _params(faust_aiokafka.Producer._ensure_producer) == ["self"]
    assert "return self._producer" in inspect.getsource(faust_aiokafka.Producer._ensure_producer)
    assert '"partitioner": self.partitioner' in inspect.getsource(faust_aiokafka.Producer._settings_default)
    # adapters/kafka_batches.py does what send() does around the batch: the partitioner over the
    # same partition list, the same size check, and hands batches over with send_batch.
    producer = aiokafka.AIOKafkaProducer
    assert "all_partitions = list(self._metadata.partitions_for_topic(topic))" in inspect.getsource(producer._partition)
    assert "return self._partitioner(serialized_key, all_partitions, available)" in inspect.getsource(
        producer._partition
    )
    assert "self._metadata = self.client.cluster" in inspect.getsource(producer.__init__)
    assert "return await self.client._wait_on_metadata(topic)" in inspect.getsource(producer.partitions_for)
    assert "self._max_request_size = max_request_size" in inspect.getsource(producer.__init__)
    assert "message_size > self._max_request_size" in inspect.getsource(producer._serialize)
    assert _params(producer.send_batch) == ["self", "batch", "topic", "partition"]
    assert _params(producer.create_batch) == ["self"]
