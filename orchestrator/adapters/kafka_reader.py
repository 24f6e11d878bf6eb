"""Read a whole topic from its beginning, without a consumer group, as raw record values.

For operator commands over history (backfill from a topic). A broker's end offsets are not
trusted (Tansu counts batches there): reading stops once the topic has yielded nothing for
``quiet_s`` seconds, or at ``limit`` records.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping

from kafka import KafkaConsumer, TopicPartition


def read_topic(
    bootstrap: str,
    topic: str,
    options: Mapping[str, object],
    quiet_s: float = 2.0,
    progress: Callable[[int], None] | None = None,
) -> Iterator[bytes]:
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        fetch_max_wait_ms=50,
        **options,
    )
    try:
        partitions = consumer.partitions_for_topic(topic)
        if not partitions:
            raise LookupError(f"topic {topic} does not exist")
        consumer.assign([TopicPartition(topic, p) for p in sorted(partitions)])
        consumer.seek_to_beginning()
        count, last = 0, time.monotonic()
        while time.monotonic() - last < quiet_s:
            for records in consumer.poll(timeout_ms=200).values():
                for record in records:
                    if record.value is not None:
                        count += 1
                        yield record.value
                last = time.monotonic()
            if progress:
                progress(count)
    finally:
        consumer.close()
