"""The faust edge: topics, two agents and a timer pump, each handing records to the service.

    xo.events ──identify──► xo.events.by-customer ──process──► actions, scenarios, DLQ
                                      ▲
                      timer pump ─────┘ (due timers of the partitions this worker owns)

Nothing here decides anything; agents only batch, call the service and report metrics.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import faust
from aiokafka.errors import KafkaError
from faust.exceptions import ProducerSendError
from faust.transport.drivers import TRANSPORTS
from faust.transport.drivers import aiokafka as faust_aiokafka

from orchestrator.adapters.kafka_publisher import KafkaPublisher, Send
from orchestrator.adapters.redis_store import RedisStore
from orchestrator.bootstrap import Wired
from orchestrator.service.handler import Handler, InRecord
from orchestrator.service.identify import route
from orchestrator.service.report import BatchReport
from orchestrator.service.retry import retrying
from orchestrator.service.timers import pump_once

log = logging.getLogger("orchestrator.worker")
SHUTDOWN_GRACE_S = 15.0
FETCH_WAIT_MS = {"value": 50}
STREAM_HEALTH_S = 5.0  # how often consumer lag is read


class _ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    """faust hard-codes a 1.5 s fetch wait; a broker that holds every fetch that long
    (Tansu does) would add it to every hop. Use the configured wait instead."""

    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        # aiokafka reads this attribute when the consumer starts; there is no public setter.
        consumer._fetch_max_wait_ms = FETCH_WAIT_MS["value"]  # noqa: SLF001
        return consumer


class _Consumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> _ConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class _Transport(faust_aiokafka.Transport):
    Consumer = _Consumer


TRANSPORTS["xokafka"] = f"{__name__}:_Transport"


def unwrapping_send_errors(app: faust.App) -> Send:
    """``app.producer.send`` for the publisher. faust wraps a KafkaError raised while enqueueing
    (no metadata within the request timeout while the broker is away, a full buffer) in its
    ProducerSendError; hand the publisher the KafkaError itself, which it retries."""

    async def send(topic: str, key: bytes, value: bytes) -> Awaitable[Any]:
        try:
            ack: Awaitable[Any] = await app.producer.send(topic, key, value, None, None, None)
        except ProducerSendError as exc:
            if isinstance(exc.__cause__, KafkaError):
                raise exc.__cause__ from exc
            raise
        return ack

    return send


def create_app(wired: Wired, store: RedisStore) -> faust.App:
    s = wired.settings
    bootstrap, _ = s.require_servers()
    FETCH_WAIT_MS["value"] = s.xo_fetch_wait_ms
    # aiokafka logs every produced record at debug level; at scale even the level checks show.
    # INFO keeps its group messages (partition assignments), which operators and tests read.
    logging.getLogger("aiokafka").setLevel(logging.INFO)
    app = faust.App(
        s.xo_group_id,
        broker=[f"xokafka://{host}" for host in bootstrap.split(",")],
        broker_credentials=_credentials(wired),
        broker_session_timeout=s.xo_session_timeout_s,
        broker_heartbeat_interval=1.0,
        broker_request_timeout=max(40.0, s.xo_session_timeout_s + 10),
        consumer_auto_offset_reset="earliest",
        topic_partitions=s.xo_partitions,
        web_host=s.xo_web_host,
        web_port=s.xo_web_port,
        datadir=str(s.xo_data_dir / s.xo_group_id),
        key_serializer="raw",
        value_serializer="raw",
    )
    topics = wired.topics
    events = app.topic(topics.events, partitions=s.xo_partitions, key_type=bytes, value_type=bytes)
    by_customer = app.topic(topics.by_customer, partitions=s.xo_partitions, key_type=bytes, value_type=bytes)
    outputs = [app.topic(name, partitions=s.xo_partitions) for name in _output_topics(wired)]
    publisher = KafkaPublisher(unwrapping_send_errors(app))
    handler = Handler(wired.world, store, publisher, wired.clock, topics)

    @app.agent(events)
    async def identify(stream: faust.StreamT[bytes]) -> None:
        await _consume(stream, wired, "identify", lambda batch: route(batch, publisher, topics))

    @app.agent(by_customer)
    async def process(stream: faust.StreamT[bytes]) -> None:
        await _consume(stream, wired, "process", handler.handle)

    @app.timer(interval=s.xo_timer_interval_s)  # type: ignore[untyped-decorator]  # faust ships no types here
    async def timer_pump() -> None:
        partitions = sorted(tp.partition for tp in app.consumer.assignment() if tp.topic == topics.by_customer)
        due = await retrying(lambda: pump_once(store, publisher, wired.clock, topics, partitions), "timer pump")
        wired.metrics.timers_due.set(due)

    @app.timer(interval=STREAM_HEALTH_S)  # type: ignore[untyped-decorator]  # faust ships no types here
    async def stream_health() -> None:
        await _consumer_lag(app, wired)

    @app.task  # type: ignore[untyped-decorator]  # faust ships no types here
    async def declare_outputs() -> None:
        for topic in outputs:
            await topic.maybe_declare()

    @app.page("/metrics")
    async def metrics(web: Any, request: Any) -> Any:
        return web.bytes(wired.metrics.exposition(), content_type="text/plain; version=0.0.4")

    return app


async def _consume(
    stream: faust.StreamT[bytes],
    wired: Wired,
    stage: str,
    handle: Callable[[Sequence[InRecord]], Awaitable[BatchReport]],
) -> None:
    s = wired.settings
    # take_events is on faust's Stream, not on the StreamT protocol it is typed as.
    async for batch in stream.take_events(  # type: ignore[attr-defined]
        s.xo_batch_size, within=s.xo_batch_within_s
    ):
        records = _records(batch, wired)
        task = asyncio.ensure_future(retrying(functools.partial(handle, records), f"{stage} batch"))
        try:
            report = await asyncio.shield(task)
        except asyncio.CancelledError:
            # faust acks the batch when this loop unwinds: finish it first, or exit unacked.
            await _finish_or_exit(task, stage)
            raise
        except Exception:
            log.critical("%s: unexpected error; exiting without acking the batch", stage, exc_info=True)
            os._exit(70)
        wired.metrics.observe(report, stage)


async def _finish_or_exit(task: asyncio.Future[BatchReport], stage: str) -> None:
    try:
        await asyncio.wait_for(asyncio.shield(task), SHUTDOWN_GRACE_S)
    except Exception:
        log.critical("%s: batch unfinished at shutdown; exiting without acking it", stage, exc_info=True)
        os._exit(75)


async def _consumer_lag(app: faust.App, wired: Wired) -> None:
    """Records not yet read per owned input partition (on Tansu high water counts batches: read it as a trend)."""
    inputs = {wired.topics.events, wired.topics.by_customer}
    for tp in app.consumer.assignment():
        if tp.topic not in inputs:
            continue
        try:
            position = await app.consumer.position(tp)
            highwater = app.consumer.highwater(tp)
        except Exception:  # a partition revoked meanwhile: the next round sees the new assignment
            log.debug("no lag for %s[%d]", tp.topic, tp.partition, exc_info=True)
            continue
        if position is not None and highwater is not None:
            wired.metrics.consumer_lag.labels(tp.topic, str(tp.partition)).set(max(highwater - position, 0))


def _records(batch: Sequence[Any], wired: Wired) -> list[InRecord]:
    received = wired.clock.monotonic()
    return [InRecord(e.message.partition, e.message.offset, e.message.key, e.message.value, received) for e in batch]


def _output_topics(wired: Wired) -> list[str]:
    channels = sorted({c for j in wired.world.journeys for c in j.channels()})
    t = wired.topics
    return [t.scenarios, t.dlq, t.journey_log, *(t.actions(c) for c in channels)]


def _credentials(wired: Wired) -> Any:
    s = wired.settings
    if not s.kafka_sasl_mechanism:
        return None
    password = s.kafka_sasl_password.get_secret_value() if s.kafka_sasl_password else ""
    return faust.SASLCredentials(
        username=s.kafka_sasl_username or "",
        password=password,
        mechanism=s.kafka_sasl_mechanism,
        ssl_context=None,
    )
