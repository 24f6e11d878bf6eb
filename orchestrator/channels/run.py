"""``orchestrator channel CHANNEL --sender …``: consume one action topic in a consumer group.

Wiring only: the options → a sender, the Redis marks, the token bucket, an aiokafka
consumer and producer, the metrics server; the record logic is ``worker.ChannelWorker``.
SIGTERM or SIGINT: finish the batch in hand, commit its offsets, stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError
from prometheus_client import start_http_server
from redis.asyncio import Redis

from orchestrator.adapters.kafka_publisher import KafkaPublisher
from orchestrator.adapters.metrics import ChannelMetrics
from orchestrator.channels import SENDERS
from orchestrator.channels.held import Held
from orchestrator.channels.hours import load_staff_hours
from orchestrator.channels.marks import Marks, StaffQuota
from orchestrator.channels.ratelimit import TokenBucket
from orchestrator.channels.senders import ConsoleSender, FileSender, Sender, SmsStub, WeComStub
from orchestrator.channels.webhook import WebhookSender
from orchestrator.channels.worker import ChannelWorker, RetryPolicy
from orchestrator.service.clock import SystemClock
from orchestrator.service.topics import Topics

BATCH = 100
RELEASE_S = 0.5  # how often held sends are looked at
log = logging.getLogger("orchestrator.channels")


@dataclass(frozen=True)
class ChannelOptions:
    channel: str
    sender: str
    bootstrap: str
    redis_url: str
    prefix: str = "xo"
    group: str | None = None  # default: <prefix>.channel.<channel>
    kafka_options: tuple[tuple[str, Any], ...] = ()
    url: str | None = None  # webhook
    secret: bytes = b""  # webhook signing secret
    timeout_s: float = 5.0  # webhook request timeout
    out: Path | None = None  # file sender
    reply: str | None = None  # console sender: simulate a reply to every message
    rate: float = 20.0  # sends per second on average
    burst: int = 20
    max_attempts: int = 5
    first_retry_s: float = 0.5  # the first backoff; doubles up to 30 s
    dedupe_ttl_s: int = 7 * 24 * 3600
    staff_quota: int | None = None  # sends per staff account per local day (WeCom)
    quota_tz: str = "Asia/Shanghai"
    staff_hours: Path | None = None  # working hours per staff account (channels/hours.py)
    web_host: str = "127.0.0.1"
    web_port: int = 6067
    fetch_wait_ms: int = 50
    session_timeout_s: float = 10.0


def make_sender(options: ChannelOptions) -> Sender:
    if options.sender == "webhook":
        if not options.url:
            raise ValueError("--sender webhook needs --url")
        return WebhookSender(options.url, options.secret, options.timeout_s)
    if options.sender == "file":
        if options.out is None:
            raise ValueError("--sender file needs --out FILE")
        return FileSender(options.out)
    if options.sender == "console":
        return ConsoleSender(options.reply)
    if options.sender == "wecom-stub":
        return WeComStub()
    if options.sender == "sms-stub":
        return SmsStub()
    raise ValueError(f"unknown sender {options.sender!r}; one of {', '.join(SENDERS)}")


def check(options: ChannelOptions) -> None:
    """Raise ValueError naming the flag when the options cannot work, before any connection."""
    make_sender(options)
    TokenBucket(options.rate, options.burst)
    if options.max_attempts < 1:
        raise ValueError(f"--max-attempts must be at least 1, got {options.max_attempts}")
    if options.staff_quota is not None and options.staff_quota < 1:
        raise ValueError(f"--staff-quota must be at least 1, got {options.staff_quota}")
    try:
        ZoneInfo(options.quota_tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"--quota-tz: unknown time zone {options.quota_tz!r}") from exc
    if options.staff_hours is not None:
        try:
            load_staff_hours(options.staff_hours)
        except ValueError as exc:
            raise ValueError(f"--staff-hours: {exc}") from exc
    if options.dedupe_ttl_s < 3600:
        raise ValueError("--dedupe-days must cover at least an hour (re-publications come later than that)")


async def serve(
    options: ChannelOptions,
    stop: asyncio.Event,
    ready: asyncio.Event | None = None,
    sender: Sender | None = None,
    clock: SystemClock | None = None,
) -> None:
    """Run until ``stop`` is set; ``ready`` is set once the consumer has partitions.
    ``sender``: use this one instead of the one ``options.sender`` names; ``clock``: the time it goes by."""
    topics = Topics(options.prefix)
    kafka = dict(options.kafka_options)
    sender = sender or make_sender(options)
    redis = Redis.from_url(options.redis_url, socket_timeout=10, socket_connect_timeout=5)
    producer = AIOKafkaProducer(bootstrap_servers=options.bootstrap, acks="all", **kafka)
    consumer = AIOKafkaConsumer(
        topics.actions(options.channel),
        bootstrap_servers=options.bootstrap,
        group_id=options.group or f"{options.prefix}.channel.{options.channel}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=options.fetch_wait_ms,
        session_timeout_ms=int(options.session_timeout_s * 1000),
        heartbeat_interval_ms=min(3000, int(options.session_timeout_s * 1000) // 3),
        **kafka,
    )
    metrics = ChannelMetrics()
    server, thread = start_http_server(options.web_port, options.web_host, registry=metrics.registry)
    await producer.start()
    try:
        await consumer.start()
        worker = ChannelWorker(
            channel=options.channel,
            topics=topics,
            sender=sender,
            marks=Marks(redis, options.prefix, options.channel, options.dedupe_ttl_s),
            publish=KafkaPublisher.for_producer(producer).publish,
            bucket=TokenBucket(options.rate, options.burst),
            metrics=metrics,
            retry=RetryPolicy(max_attempts=options.max_attempts, first_delay_s=options.first_retry_s),
            quota=_quota(options, redis),
            hours=load_staff_hours(options.staff_hours) if options.staff_hours else None,
            held=Held(redis, options.prefix, options.channel) if options.staff_hours else None,
            clock=clock or SystemClock(),
        )
        releasing = asyncio.ensure_future(_release_held(worker, stop))
        try:
            await _consume(worker, consumer, stop, ready)
        finally:
            releasing.cancel()
    finally:
        await consumer.stop()
        await producer.stop()
        await sender.close()
        await redis.aclose()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _quota(options: ChannelOptions, redis: Redis) -> StaffQuota | None:
    if options.staff_quota is None:
        return None
    return StaffQuota(redis, options.prefix, options.channel, options.staff_quota, ZoneInfo(options.quota_tz))


async def _release_held(worker: ChannelWorker, stop: asyncio.Event) -> None:
    """Sends held for working hours go when the hours begin (looked at every RELEASE_S)."""
    if worker.held is None:
        return
    while not stop.is_set():
        try:
            due = await worker.release_due()
        except Exception:  # Redis away beyond the retries: look again next round
            log.warning("releasing held sends failed; trying again", exc_info=True)
            due = 0
        if not due:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), RELEASE_S)


async def _consume(
    worker: ChannelWorker, consumer: AIOKafkaConsumer, stop: asyncio.Event, ready: asyncio.Event | None
) -> None:
    halt = asyncio.ensure_future(stop.wait())
    try:
        while not stop.is_set():
            fetch = asyncio.ensure_future(consumer.getmany(timeout_ms=500, max_records=BATCH))
            await asyncio.wait({fetch, halt}, return_when=asyncio.FIRST_COMPLETED)
            if not fetch.done():
                fetch.cancel()
                break
            if ready is not None and consumer.assignment():
                ready.set()
            batches = fetch.result()
            # Partitions in parallel, each in order (one customer's actions stay in order).
            await asyncio.gather(*(worker.handle_all([(r.value, _where(r)) for r in rs]) for rs in batches.values()))
            await _commit(consumer, {tp: rs[-1].offset + 1 for tp, rs in batches.items() if rs})
    finally:
        halt.cancel()


async def _commit(consumer: AIOKafkaConsumer, offsets: dict[TopicPartition, int]) -> None:
    if not offsets:
        return
    try:
        await consumer.commit(offsets)
    except (CommitFailedError, KafkaError) as exc:  # a rebalance: the records come again, the marks dedupe them
        log.warning("offset commit failed, records will be redelivered and deduplicated: %s", exc)


def _where(record: Any) -> str:
    return f"{record.topic}[{record.partition}]@{record.offset}"


def run_channel(options: ChannelOptions) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("aiokafka").setLevel(logging.WARNING)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        ready = asyncio.Event()
        waiter = asyncio.ensure_future(_announce(ready, options))
        try:
            await serve(options, stop, ready)
        finally:
            waiter.cancel()

    asyncio.run(main())
    return 0


async def _announce(ready: asyncio.Event, options: ChannelOptions) -> None:
    await ready.wait()
    log.info(
        "channel worker ready: %s.actions.%s → %s sender · metrics http://%s:%d/metrics",
        options.prefix,
        options.channel,
        options.sender,
        options.web_host,
        options.web_port,
    )
