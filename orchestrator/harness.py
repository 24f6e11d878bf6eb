"""Run a worker as a child process and watch output topics: used by the demo and the tests."""

from __future__ import annotations

import os
import re
import sys
import time
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import orjson
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from orchestrator.embedded import ChildProcess, free_port


@dataclass(frozen=True)
class Received:
    topic: str
    key: str | None
    value: dict[str, object]


class WorkerProcess(ChildProcess):
    """``python -m orchestrator worker`` with the given environment; logs to a temp file."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.web_port = int(env.get("XO_WEB_PORT") or free_port())
        argv = [sys.executable, "-m", "orchestrator", "worker"]
        super().__init__(argv, {**os.environ, **env, "XO_WEB_PORT": str(self.web_port)}, "xo-worker-")

    def metrics(self, timeout: float = 5.0) -> dict[str, float]:
        """The worker's samples by name and labels (``xo_actions_total{channel="sms"}``);
        empty while its web server is not up (or after it died)."""
        return scrape(self.web_port, timeout)

    def assigned(self, topic: str) -> set[int] | None:
        """The partitions of ``topic`` in this worker's latest assignment, or None before its first.

        Read from the log: on every rebalance aiokafka logs "Setting newly assigned partitions"
        with the member's whole assignment, which faust renders as a table of
        ``| topic | {0, 2-3} |`` rows (faust-streaming 0.15; an empty assignment has no rows).
        """
        text = self.log_path.read_text(errors="replace")
        start = text.rfind(_ASSIGNED)
        if start < 0:
            return None
        block = text[start : text.find(" for group ", start)]
        row = re.search(rf"^\|\s*{re.escape(topic)}\s*\|\s*\{{([^}}]*)\}}", block, re.MULTILINE)
        return _partition_set(row.group(1)) if row else set()


def _json_object(raw: bytes | None) -> dict[str, object]:
    """A record's JSON object; an input topic may hold anything, kept as ``{"raw": text}``."""
    try:
        value = orjson.loads(raw or b"")
    except orjson.JSONDecodeError:
        value = None
    return value if isinstance(value, dict) else {"raw": (raw or b"").decode(errors="replace")}


_SAMPLE = re.compile(r"^([A-Za-z_:][^ ]*) (\S+)$")
_ASSIGNED = "Setting newly assigned partitions"


def _partition_set(text: str) -> set[int]:
    """``0, 2-4`` → {0, 2, 3, 4}."""
    partitions: set[int] = set()
    for part in filter(None, (p.strip() for p in text.split(","))):
        first, _, last = part.partition("-")
        partitions.update(range(int(first), int(last or first) + 1))
    return partitions


def metric_sum(metrics: Mapping[str, float], name: str) -> float:
    """The sum of one metric's samples over all its label values."""
    return sum(v for k, v in metrics.items() if k == name or k.startswith(name + "{"))


def scrape(port: int, timeout: float = 5.0) -> dict[str, float]:
    """Every sample of the Prometheus exposition at 127.0.0.1:port/metrics; empty when it is not up."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=timeout) as response:
            text = response.read().decode()
    except OSError:
        return {}
    values: dict[str, float] = {}
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        if match and not line.startswith("#"):
            values[match.group(1)] = float(match.group(2))
    return values


def produce(
    bootstrap: str, topic: str, values: Iterable[bytes], options: Mapping[str, object], key: str | None = None
) -> int:
    """Send and flush; with ``key`` every record goes to that key's partition, in order."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, **options)
    try:
        count = 0
        for value in values:
            producer.send(topic, value=value, key=key.encode() if key else None)
            count += 1
        producer.flush()
        return count
    finally:
        producer.close()


class TopicWatcher:
    """Reads whole topics from the beginning without a consumer group."""

    def __init__(self, bootstrap: str, topics: Iterable[str], options: Mapping[str, object]) -> None:
        self.consumer = KafkaConsumer(
            bootstrap_servers=bootstrap,
            group_id=None,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            fetch_max_wait_ms=20,
            **options,
        )
        partitions: list[TopicPartition] = []
        for topic in topics:
            # An unknown topic is an error: reading "partition 0" of it would miss whatever
            # lands on the other partitions once it is created with more.
            known = self.consumer.partitions_for_topic(topic)
            if not known:
                self.consumer.close()
                raise LookupError(f"topic {topic} does not exist: create it before watching it")
            partitions.extend(TopicPartition(topic, partition) for partition in sorted(known))
        self.consumer.assign(partitions)
        self.consumer.seek_to_beginning()
        self.received: list[Received] = []

    def poll(self) -> list[Received]:
        batch: list[Received] = []
        for records in self.consumer.poll(timeout_ms=200).values():
            for record in records:
                key = record.key.decode() if record.key is not None else None
                batch.append(Received(record.topic, key, _json_object(record.value)))
        self.received.extend(batch)
        return batch

    def wait_for(
        self,
        done: Callable[[list[Received]], bool],
        timeout: float,
        on_record: Callable[[Received], None] | None = None,
        alive: Callable[[], bool] | None = None,
    ) -> bool:
        """Poll until ``done(received)`` holds; False on timeout or when ``alive()`` turns false."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for record in self.poll():
                if on_record:
                    on_record(record)
            if done(self.received):
                return True
            if alive is not None and not alive():
                return False
        return False

    def of(self, topic: str) -> list[Received]:
        return [r for r in self.received if r.topic == topic]

    def close(self) -> None:
        self.consumer.close()
