"""Shared by the worker-process tests here: the test journey, its events, what a dry run expects,
a worker's environment and reading the action topics.

The journey (``journeys/wait_and_send.yaml``) sends on WeCom, waits 6 s and sends an SMS, for
every customer whose PRO-900 runs out in 3 days: its cycle timer is due as soon as the order
is processed, so the first send comes at once and the second one 6 s later.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from pathlib import Path

import orjson
from kafka import KafkaProducer

from orchestrator.adapters.kafka_admin import ensure_topics
from orchestrator.bootstrap import load_world
from orchestrator.harness import Received, TopicWatcher, WorkerProcess
from orchestrator.service.simulate import simulate
from orchestrator.service.topics import Topics
from orchestrator.settings import Settings

HERE = Path(__file__).resolve().parent
JOURNEYS = HERE / "journeys"
TEMPLATES = HERE / "templates"
CHANNELS = ("wecom_private", "sms")
WAIT = timedelta(seconds=6)  # the journey's wait step


def event(id_: str, cid: str, type_: str, at: datetime, data: dict[str, object], **identity: str) -> bytes:
    payload = {"id": id_, "type": type_, "time": at.isoformat(), "identity": {"member_id": cid, **identity}}
    return orjson.dumps({**payload, "source": "test", "data": data})


def customer_events(cid: str, now: datetime, name: str | None = None) -> list[bytes]:
    """Registration (WeCom id and phone), then one PRO-900 bought 27 days ago: the cycle timer is due."""
    identity = {"wecom_external_id": f"wm-{cid}", "phone": f"+86-{cid}"}
    order = {"order_id": f"O-{cid}", "amount": 199.0, "items": [{"sku": "PRO-900", "qty": 1}]}
    return [
        event(f"{cid}-reg", cid, "customer.registered", now - timedelta(days=40), {"name": name or cid}, **identity),
        event(f"{cid}-order", cid, "order.paid", now - timedelta(days=27), order),
    ]


def expected_action_ids(events: dict[str, list[bytes]], now: datetime) -> set[str]:
    """Action ids of a dry run of each customer's events, with time run on past every wait."""
    _, world = load_world(Settings(xo_journeys_dir=JOURNEYS, xo_templates_dir=TEMPLATES))
    expected: set[str] = set()
    for lines in events.values():
        expected.update(a.action_id for a in simulate(world, lines, until=now + timedelta(days=1)).actions)
    return expected


def output_topics(topics: Topics) -> list[str]:
    return [*(topics.actions(c) for c in CHANNELS), topics.scenarios, topics.dlq]


def create_topics(bootstrap: str, topics: Topics, partitions: int) -> None:
    names = [topics.events, topics.by_customer, *output_topics(topics)]
    ensure_topics(bootstrap, dict.fromkeys(names, partitions), {})


def worker_env(bootstrap: str, redis_url: str, prefix: str, data_dir: Path, partitions: int) -> dict[str, str]:
    return {
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "REDIS_URL": redis_url,
        "XO_TOPIC_PREFIX": prefix,
        "XO_GROUP_ID": prefix,
        "XO_PARTITIONS": str(partitions),
        "XO_SESSION_TIMEOUT_S": "6",
        "XO_FETCH_WAIT_MS": "10",
        "XO_DATA_DIR": str(data_dir),
        "XO_JOURNEYS_DIR": str(JOURNEYS),
        "XO_TEMPLATES_DIR": str(TEMPLATES),
    }


def actions(received: Iterable[Received]) -> list[Received]:
    return [r for r in received if ".actions." in r.topic and "marker" not in r.value]


def action_ids(watcher: TopicWatcher) -> set[str]:
    return {str(r.value["action_id"]) for r in actions(watcher.received)}


def copies_by_id(received: Sequence[Received]) -> dict[str, list[bytes]]:
    """Every copy of each action, as canonical JSON, by action id."""
    copies: dict[str, list[bytes]] = defaultdict(list)
    for record in actions(received):
        copies[str(record.value["action_id"])].append(orjson.dumps(record.value, option=orjson.OPT_SORT_KEYS))
    return copies


def assert_exactly_the_expected_actions(watcher: TopicWatcher, expected: set[str]) -> None:
    """Every expected action exists, no other; copies of one action_id are byte-for-byte equal."""
    copies = copies_by_id(watcher.received)
    assert set(copies) == expected, (sorted(expected - set(copies))[:5], sorted(set(copies) - expected)[:5])
    divergent = {k: v for k, v in copies.items() if len(set(v)) > 1}
    assert not divergent, divergent


def read_to_markers(bootstrap: str, watcher: TopicWatcher, topics: Sequence[str], timeout: float = 60.0) -> None:
    """Put a marker on every partition of ``topics`` and read until all are back: then the watcher
    holds everything produced to them before this call."""
    token = orjson.dumps({"marker": datetime.now().isoformat()})  # noqa: DTZ005 - a unique value, no zone needed
    producer = KafkaProducer(bootstrap_servers=bootstrap)
    try:
        count = 0
        for topic in topics:
            for partition in sorted(producer.partitions_for(topic)):
                producer.send(topic, value=token, partition=partition)
                count += 1
        producer.flush()
    finally:
        producer.close()
    marker = orjson.loads(token)["marker"]
    assert watcher.wait_for(lambda got: sum(r.value.get("marker") == marker for r in got) >= count, timeout)


def diagnose(*workers: WorkerProcess) -> str:
    """For a failed wait: what each worker counted (did it see the inputs?) and its log's end."""
    parts = []
    for worker in workers:
        counts = {k: v for k, v in worker.metrics().items() if k.endswith("_total") or "_total{" in k}
        parts.append(f"alive={worker.alive()} metrics={counts}\n{worker.log_tail(2500)}")
    return "\n\n".join(parts)
