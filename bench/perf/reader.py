"""Reference rows: aiokafka alone reading a topic, optionally decoding each record as the engine does.

    python -m bench.perf.reader    (configured by the environment, see ``main``)

A consumer group of one (``BENCH_GROUP_ID``) reads ``BENCH_TOPIC`` from the earliest offset
with ``getmany`` (``XO_FETCH_WAIT_MS`` fetch wait, ``XO_BATCH_SIZE`` records per call);
with ``BENCH_DECODE=1`` every record goes through ``service.codec.decode_event`` (JSON and
model validation, what the engine does first with an event). Its count is written to
``BENCH_PROGRESS_FILE`` every 50 ms; it runs until it is terminated.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from aiokafka import AIOKafkaConsumer

from orchestrator.service import codec


def _write(path: Path, count: int) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(str(count))
    tmp.replace(path)


async def read(env: dict[str, str]) -> None:
    progress = Path(env["BENCH_PROGRESS_FILE"])
    decode = env.get("BENCH_DECODE") == "1"
    batch = int(env.get("XO_BATCH_SIZE", "500"))
    consumer = AIOKafkaConsumer(
        env["BENCH_TOPIC"],
        bootstrap_servers=env["KAFKA_BOOTSTRAP_SERVERS"],
        group_id=env["BENCH_GROUP_ID"],
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        fetch_max_wait_ms=int(env.get("XO_FETCH_WAIT_MS", "10")),
    )
    await consumer.start()
    count, written = 0, 0.0
    try:
        while True:
            batches = await consumer.getmany(timeout_ms=100, max_records=batch)
            for records in batches.values():
                if decode:
                    for record in records:
                        codec.decode_event(record.value)
                count += len(records)
            if time.monotonic() - written >= 0.05:
                _write(progress, count)
                written = time.monotonic()
    finally:
        await consumer.stop()


def main() -> None:
    asyncio.run(read(dict(os.environ)))


if __name__ == "__main__":
    main()
