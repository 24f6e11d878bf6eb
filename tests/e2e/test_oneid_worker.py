"""OneID live: a real worker process, the real broker and the real Redis, driven through topics.

The worked example of docs/identity.md (a member buys at the store; a WeCom line carries
the phone; later the WeCom id alone says "蛋白粉快吃完了" and gets the reply about the
product the member bought), the reverse order (a WeCom-only profile first, the member
later, an ``identity.linked`` event merges them and journeys carry on with both
histories), and a shared phone that must not fuse two members (refused, published).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from redis import Redis

from orchestrator.adapters.kafka_admin import ensure_topics
from orchestrator.harness import TopicWatcher, WorkerProcess, produce
from orchestrator.service.topics import Topics
from tests.oneid_bus import event

pytestmark = pytest.mark.integration
TIMEOUT = 60.0
REPO = Path(__file__).resolve().parents[2]


def _order(id_: str, days_ago: float, sku: str, **identity: str) -> bytes:
    data = {"order_id": f"O-{id_}", "amount": 199.0, "items": [{"sku": sku, "qty": 1}]}
    return event(id_, "order.paid", days_ago, data, **identity)


@pytest.fixture
def topics(prefix: str) -> Topics:
    return Topics(prefix)


@pytest.fixture
def worker(kafka_bootstrap: str, redis_url: str, topics: Topics, tmp_path: Path) -> Iterator[WorkerProcess]:
    names = [topics.events, topics.by_customer, topics.actions("wecom_private"), topics.identity, topics.dlq]
    ensure_topics(kafka_bootstrap, dict.fromkeys(names, 2), {})
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "REDIS_URL": redis_url,
        "XO_TOPIC_PREFIX": topics.prefix,
        "XO_GROUP_ID": topics.prefix,
        "XO_PARTITIONS": "2",
        "XO_SESSION_TIMEOUT_S": "6",
        "XO_CONTACT_POLICY": "off",
        "XO_FETCH_WAIT_MS": "10",
        "XO_DATA_DIR": str(tmp_path),
        "XO_JOURNEYS_DIR": str(REPO / "journeys"),
        "XO_TEMPLATES_DIR": str(REPO / "templates"),
    }
    process = WorkerProcess(env).start()
    yield process
    process.stop()


def test_one_customer_across_identifiers_live(
    worker: WorkerProcess, kafka_bootstrap: str, redis_url: str, topics: Topics
) -> None:
    redis = Redis.from_url(redis_url)
    watcher = TopicWatcher(kafka_bootstrap, [topics.actions("wecom_private"), topics.identity, topics.dlq], {})

    def send(*records: bytes) -> None:
        produce(kafka_bootstrap, topics.events, records, {}, key="source")

    def owner(key: str) -> str | None:
        raw = redis.get(f"{topics.prefix}:id:{{{key}}}")
        return raw.decode() if raw else None

    def linked(key: str, cid: str) -> bool:
        return watcher.wait_for(lambda _: owner(key) == cid, TIMEOUT, alive=worker.alive)

    def replies(cid: str) -> list[dict[str, object]]:
        return [
            r.value
            for r in watcher.of(topics.actions("wecom_private"))
            if r.value["customer_id"] == cid and r.value["journey"]["id"] == "replenish"  # type: ignore[index]
        ]

    try:
        # The worked example: the store, then WeCom with the phone, then WeCom alone.
        send(_order("s1", 20, "PRO-900", member_id="M1001", phone="13800000001"))
        assert linked("phone:+8613800000001", "M1001"), worker.log_tail()  # "later": the store's order is in
        send(event("w1", "chat.message", 3, {"text": "你好"}, phone="138 0000 0001", wecom_external_id="wmA"))
        assert linked("wecom_external_id:wmA", "M1001"), worker.log_tail()
        send(event("w2", "chat.message", 0, {"text": "蛋白粉快吃完了"}, wecom_external_id="wmA"))
        assert watcher.wait_for(lambda _: replies("M1001"), TIMEOUT, alive=worker.alive), worker.log_tail()
        [reply] = replies("M1001")
        assert reply["to"] == {"wecom_external_id": "wmA"}
        assert "乳清蛋白粉 900g" in str(reply["content"])

        # The reverse order: WeCom first, the member later, linked: merged, and the journey acts.
        send(event("x1", "chat.message", 6, {"text": "你好，了解一下蛋白粉"}, wecom_external_id="wmB"))
        assert linked("wecom_external_id:wmB", "wecom_external_id:wmB"), worker.log_tail()
        send(_order("x2", 20, "PRO-900", member_id="M2002", phone="13800000002"))
        assert linked("member_id:M2002", "M2002"), worker.log_tail()
        send(event("x3", "identity.linked", 1, {}, member_id="M2002", wecom_external_id="wmB"))
        assert linked("wecom_external_id:wmB", "M2002"), worker.log_tail()
        send(event("x4", "chat.message", 0, {"text": "蛋白粉快吃完了"}, wecom_external_id="wmB"))
        assert watcher.wait_for(lambda _: replies("M2002"), TIMEOUT, alive=worker.alive), worker.log_tail()
        assert replies("M2002")[0]["to"] == {"wecom_external_id": "wmB"}

        # A family phone: two members never fuse; the link is refused and published.
        send(_order("f1", 5, "PRO-450", member_id="M3003", phone="13800000001"))

        def refused(_: object) -> bool:
            return any(r.value.get("what") == "link_refused" for r in watcher.of(topics.identity))

        assert watcher.wait_for(refused, TIMEOUT, alive=worker.alive), worker.log_tail()
        [note] = [r.value for r in watcher.of(topics.identity) if r.value.get("what") == "link_refused"]
        assert (note["customer_id"], note["identifier"], note["partner"]) == ("M3003", "phone:+8613800000001", "M1001")
        assert owner("phone:+8613800000001") == "M1001"
        merged = [r.value for r in watcher.of(topics.identity) if r.value.get("what") == "merged"]
        assert [(m["customer_id"], m["retired"]) for m in merged] == [("M2002", "wecom_external_id:wmB")]
        metrics = worker.metrics()
        assert metrics['xo_identity_total{what="merges"}'] == 1
        assert metrics['xo_identity_refused_total{reason="limit",type="phone"}'] == 1
        assert not watcher.of(topics.dlq)
    finally:
        watcher.close()
        redis.close()


def test_records_keyed_by_their_customer_take_one_pass_the_others_are_rekeyed(
    worker: WorkerProcess, kafka_bootstrap: str, topics: Topics
) -> None:
    """Sources key by their own identifier: the store by member id (canonical: processed where it
    lands), the WeCom bot by WeCom id (mapped to the member by the graph: re-keyed to M1001)."""
    watcher = TopicWatcher(kafka_bootstrap, [topics.actions("wecom_private"), topics.dlq], {})

    def routed() -> dict[str, float]:
        metrics = worker.metrics()
        return {path: metrics.get(f'xo_records_routed_total{{path="{path}"}}', 0.0) for path in ("here", "rekeyed")}

    try:
        store = _order("s1", 20, "PRO-900", member_id="M1001", phone="13800000001")
        produce(kafka_bootstrap, topics.events, [store], {}, key="M1001")
        assert watcher.wait_for(lambda _: routed()["here"] == 1, TIMEOUT, alive=worker.alive), worker.log_tail()
        wecom = [
            event("w1", "chat.message", 3, {"text": "你好"}, phone="138 0000 0001", wecom_external_id="wmA"),
            event("w2", "chat.message", 0, {"text": "蛋白粉快吃完了"}, wecom_external_id="wmA"),
        ]
        produce(kafka_bootstrap, topics.events, wecom, {}, key="wecom_external_id:wmA")

        def replied(_: object) -> bool:
            return any(r.value["customer_id"] == "M1001" for r in watcher.of(topics.actions("wecom_private")))

        assert watcher.wait_for(replied, TIMEOUT, alive=worker.alive), worker.log_tail()
        [reply] = [r.value for r in watcher.of(topics.actions("wecom_private"))]
        assert reply["to"] == {"wecom_external_id": "wmA"}
        assert "乳清蛋白粉 900g" in str(reply["content"])  # the store's purchase, reached from WeCom
        assert routed() == {"here": 1, "rekeyed": 2}
        assert not watcher.of(topics.dlq)
    finally:
        watcher.close()
