"""A real worker process against a real broker and a real Redis, driven through topics."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from orchestrator.adapters.kafka_admin import ensure_topics
from orchestrator.harness import Received, TopicWatcher, WorkerProcess, produce
from orchestrator.service.topics import Topics
from tests.fixtures.servers import CONFIG

pytestmark = pytest.mark.integration
TIMEOUT = 60.0
NOW = datetime.now(tz=UTC)


def _event(id_: str, member: str, type_: str, days_ago: float, data: dict[str, object], **identity: str) -> bytes:
    return orjson.dumps(
        {
            "id": id_,
            "type": type_,
            "time": (NOW - timedelta(days=days_ago)).isoformat(),
            "source": "test",
            "identity": {"member_id": member, **identity},
            "data": data,
        }
    )


def _order(id_: str, member: str, days_ago: float, sku: str, qty: int) -> bytes:
    return _event(id_, member, "order.paid", days_ago, {"order_id": f"O-{id_}", "items": [{"sku": sku, "qty": qty}]})


@pytest.fixture
def topics(prefix: str) -> Topics:
    return Topics(prefix)


@pytest.fixture
def worker_env(kafka_bootstrap: str, redis_url: str, prefix: str, topics: Topics, tmp_path: Path) -> dict[str, str]:
    names = [topics.events, topics.by_customer, topics.actions("wecom_private"), topics.scenarios, topics.dlq]
    ensure_topics(kafka_bootstrap, dict.fromkeys(names, 2), {})
    return {
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "REDIS_URL": redis_url,
        "XO_TOPIC_PREFIX": prefix,
        "XO_GROUP_ID": prefix,
        "XO_PARTITIONS": "2",
        "XO_SESSION_TIMEOUT_S": "6",
        "XO_CONTACT_POLICY": "off",  # runs at any hour: no quiet hours
        "XO_FETCH_WAIT_MS": "10",
        "XO_DATA_DIR": str(tmp_path),
        "XO_JOURNEYS_DIR": str(CONFIG / "journeys"),
        "XO_TEMPLATES_DIR": str(CONFIG / "templates"),
    }


@pytest.fixture
def watcher(kafka_bootstrap: str, topics: Topics) -> Iterator[TopicWatcher]:
    watching = TopicWatcher(kafka_bootstrap, [topics.actions("wecom_private"), topics.scenarios, topics.dlq], {})
    yield watching
    watching.close()


def _actions(got: list[Received]) -> list[Received]:
    return [r for r in got if ".actions." in r.topic]


def test_events_in_rendered_actions_out(
    worker_env: dict[str, str], kafka_bootstrap: str, topics: Topics, watcher: TopicWatcher
) -> None:
    worker = WorkerProcess(worker_env).start()
    try:
        for member, records in {
            "M1": [
                _event("a1", "M1", "customer.registered", 40, {"name": "王女士"}, wecom_external_id="wm1"),
                _order("a2", "M1", 27, "PRO-900", 1),
            ],
            "M2": [
                _event("b1", "M2", "customer.registered", 200, {"name": "李先生"}, wecom_external_id="wm2"),
                _order("b2", "M2", 115, "VITC-60", 2),
            ],
            "M3": [
                _order("c1", "M3", 27, "PRO-900", 1),
                _event("c2", "M3", "order.refunded", 26, {"order_id": "O-c1"}, wecom_external_id="wm3"),
            ],
            "bad": [
                b"not json",
                _event("d1", "M4", "order.paid", 1, {"order_id": "X", "items": [{"sku": "A", "qty": -1}]}),
                b'{"id": "d2", "type": "order.paid", "identity": {"member_id": "M4"}}',
            ],
        }.items():
            produce(kafka_bootstrap, topics.events, records, {}, key=member)
        assert watcher.wait_for(
            lambda got: len(_actions(got)) >= 2 and len(watcher.of(topics.dlq)) >= 3, TIMEOUT, alive=worker.alive
        ), worker.log_tail()
        texts = {r.value["customer_id"]: r.value["content"] for r in _actions(watcher.received)}
        assert texts == {
            "M1": {
                "text": "王女士，您上次买的乳清蛋白粉 900g，大约还能用 3 天，需要的话我帮您留一份，老客户今天下单包邮~"
            },
            "M2": {
                "text": "李先生，您上次买的维生素C 60片，大约还能用 5 天，需要的话我帮您留一份，老客户今天下单包邮~"
            },
        }
        [m1] = [r for r in _actions(watcher.received) if r.value["customer_id"] == "M1"]
        assert m1.key == "M1"
        assert m1.value["to"] == {"wecom_external_id": "wm1"}
        assert m1.value["journey"] == {"id": "replenish", "version": 1, "step": "remind", "variant": None}
        assert sorted(str(r.value["reason"]).split(":")[0] for r in watcher.of(topics.dlq)) == [
            "invalid JSON",
            "invalid event",
            "invalid order.paid data",
        ]
        hits = watcher.of(topics.scenarios)
        assert sorted(str(h.value["customer_id"]) for h in hits) == ["M1", "M2"]
        assert hits[0].value["scenario"] == "consumption_cycle_ending"
        metrics = worker.metrics()
        assert metrics['xo_actions_total{channel="wecom_private"}'] == 2
        assert metrics['xo_events_rejected_total{reason="json",stage="identify"}'] == 1
        assert metrics['xo_events_rejected_total{reason="data",stage="identify"}'] == 1
        assert metrics['xo_events_total{type="order.paid"}'] == 3
        assert metrics["xo_event_to_action_seconds_count"] == 2
        assert metrics['xo_journey_transitions_total{journey="replenish",transition="entered",version="1"}'] == 2
    finally:
        worker.stop()


def test_a_restarted_worker_replaying_the_same_events_sends_nothing_twice(
    worker_env: dict[str, str], kafka_bootstrap: str, topics: Topics, watcher: TopicWatcher
) -> None:
    history = [
        _event("r1", "M1", "customer.registered", 40, {"name": "王女士"}, wecom_external_id="wm1"),
        _order("r2", "M1", 27, "PRO-900", 1),
    ]
    first = WorkerProcess(worker_env).start()
    try:
        produce(kafka_bootstrap, topics.events, history, {}, key="M1")
        assert watcher.wait_for(lambda got: len(_actions(got)) == 1, TIMEOUT, alive=first.alive), first.log_tail()
    finally:
        assert first.stop() == 0
    second = WorkerProcess(worker_env).start()
    try:
        # The same records again, then a new order: its scenario hit proves the replay was processed
        # (no action: the journey's 7-day re-entry cooldown holds the customer).
        marker = _order("r3", "M1", 115, "VITC-60", 2)
        produce(kafka_bootstrap, topics.events, [*history, marker], {}, key="M1")
        assert watcher.wait_for(
            lambda got: any(r.value.get("occurrence", "").startswith("vitamin:") for r in got),
            TIMEOUT,
            alive=second.alive,
        ), second.log_tail()
        # Anything the worker produced for M1 is now ahead of this record in M1's partition.
        produce(kafka_bootstrap, topics.actions("wecom_private"), [b'{"marker": true}'], {}, key="M1")
        assert watcher.wait_for(lambda got: any(r.value.get("marker") for r in got), TIMEOUT)
        actions = [r for r in _actions(watcher.received) if not r.value.get("marker")]
        assert len(actions) == 1
        metrics = second.metrics()
        assert metrics["xo_inputs_duplicate_total"] >= 2
        assert metrics['xo_scenario_hits_total{scenario="consumption_cycle_ending"}'] == 1
    finally:
        second.stop()
