"""The journey log (and receipts) from Kafka: ``<prefix>.journey-log`` and ``<prefix>.events`` over a window.

No consumer group: partitions are assigned and read from the first record at or after
``since`` (by record timestamp; from the beginning without ``since``) until the topics
stay quiet. End offsets are not trusted to say where the end is (some Kafka-protocol
brokers count batches there, not records).
"""

from __future__ import annotations

import time

import orjson
from kafka import KafkaConsumer, TopicPartition

from orchestrator.analytics.reader import Log, Window, read_payload
from orchestrator.bootstrap import kafka_client_options
from orchestrator.settings import Settings

QUIET_POLLS = 3  # empty polls in a row that mean the topics have nothing more to give
POLL_MS = 500
DEADLINE_S = 600.0


def read_topics(log: Log, settings: Settings, window: Window) -> None:
    prefix = settings.xo_topic_prefix
    consumer = KafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        **kafka_client_options(settings),
    )
    try:
        parts = _partitions(consumer, [f"{prefix}.journey-log", f"{prefix}.events"])
        if not any(tp.topic.endswith(".journey-log") for tp in parts):
            log.problems.append(f"{prefix}.journey-log: no such topic (no worker has written the log yet)")
            return
        consumer.assign(parts)
        _seek(consumer, parts, window)
        _drain(consumer, log, window)
    finally:
        consumer.close()


def _partitions(consumer: KafkaConsumer, topics: list[str]) -> list[TopicPartition]:
    return [TopicPartition(t, p) for t in topics for p in sorted(consumer.partitions_for_topic(t) or ())]


def _seek(consumer: KafkaConsumer, parts: list[TopicPartition], window: Window) -> None:
    consumer.seek_to_beginning(*parts)
    if window.since is None:
        return
    found = consumer.offsets_for_times({tp: int(window.since.timestamp() * 1000) for tp in parts})
    for tp, at in found.items():
        if at is not None:
            consumer.seek(tp, at.offset)


def _drain(consumer: KafkaConsumer, log: Log, window: Window) -> None:
    """Receipts are kept whatever their time: a send inside the window may be answered after it."""
    quiet, deadline = 0, time.monotonic() + DEADLINE_S
    while quiet < QUIET_POLLS and time.monotonic() < deadline:
        batch = consumer.poll(timeout_ms=POLL_MS)
        quiet = 0 if batch else quiet + 1
        for tp, records in batch.items():
            is_log = tp.topic.endswith(".journey-log")
            for record in records:
                where = f"{tp.topic}[{tp.partition}]@{record.offset}"
                try:
                    payload = orjson.loads(record.value)
                except orjson.JSONDecodeError as exc:
                    if is_log:
                        log.problems.append(f"{where}: not JSON: {exc}")
                    continue
                if isinstance(payload, dict):
                    read_payload(log, where, payload, window)
