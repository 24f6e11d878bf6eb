"""Merges under SIGKILL: a real worker killed while merges are in flight, twice, then restarted.

Forty WeCom prospects are each linked to a member (chat from the WeCom id, an order from
the member, an ``identity.linked`` event): forty merges, each a request, a retire and an
absorb through the outbox. The worker is SIGKILLed as soon as the first retirements are
published, and again after more, and a fresh worker takes over. In the end every prospect
redirects to its member, the graph gives every identifier to the member, no outbox entry is
left pending, and the WeCom id alone then reaches the member: one reply per member about
the store purchase, each action id produced with one payload only.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import orjson
import pytest
from redis import Redis

from orchestrator.adapters.kafka_admin import ensure_topics
from orchestrator.core.packing import unpack
from orchestrator.harness import Received, TopicWatcher, WorkerProcess, produce
from orchestrator.service.topics import Topics
from tests.oneid_bus import event

pytestmark = pytest.mark.integration
PAIRS = 40
TIMEOUT = 90.0
REPO = Path(__file__).resolve().parents[2]


def _records(n: int) -> list[bytes]:
    order = {"order_id": f"O-{n}", "amount": 199.0, "items": [{"sku": "PRO-900", "qty": 1}]}
    return [
        event(f"w{n}", "chat.message", 6, {"text": "你好"}, wecom_external_id=f"wm{n}"),
        event(f"m{n}", "order.paid", 20, order, member_id=f"M{n}"),
        event(f"l{n}", "identity.linked", 1, {}, member_id=f"M{n}", wecom_external_id=f"wm{n}"),
    ]


def test_merges_survive_sigkill(kafka_bootstrap: str, redis_url: str, prefix: str, tmp_path: Path) -> None:
    topics = Topics(prefix)
    names = [topics.events, topics.by_customer, topics.actions("wecom_private"), topics.identity, topics.dlq]
    ensure_topics(kafka_bootstrap, dict.fromkeys(names, 2), {})
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "REDIS_URL": redis_url,
        "XO_TOPIC_PREFIX": prefix,
        "XO_GROUP_ID": prefix,
        "XO_PARTITIONS": "2",
        "XO_SESSION_TIMEOUT_S": "6",
        "XO_CONTACT_POLICY": "off",
        "XO_FETCH_WAIT_MS": "10",
        "XO_DATA_DIR": str(tmp_path),
        "XO_JOURNEYS_DIR": str(REPO / "journeys"),
        "XO_TEMPLATES_DIR": str(REPO / "templates"),
    }
    redis = Redis.from_url(redis_url)
    watcher = TopicWatcher(kafka_bootstrap, [topics.actions("wecom_private"), topics.identity, topics.dlq], {})
    workers = [WorkerProcess(env).start()]

    def retired(got: list[Received]) -> int:
        return len({r.value["customer_id"] for r in got if r.topic == topics.identity and r.value["what"] == "retired"})

    def owner(key: str) -> str | None:
        raw = redis.get(f"{prefix}:id:{{{key}}}")
        return raw.decode() if raw else None

    try:
        for n in range(PAIRS):  # prospects and members first, so that every link is a merge
            produce(kafka_bootstrap, topics.events, _records(n)[:2], {}, key=f"k{n}")
        assert watcher.wait_for(
            lambda _: all(owner(f"member_id:M{n}") and owner(f"wecom_external_id:wm{n}") for n in range(PAIRS)),
            TIMEOUT,
            alive=workers[-1].alive,
        ), workers[-1].log_tail()
        produce(kafka_bootstrap, topics.events, [_records(n)[2] for n in range(PAIRS)], {}, key="links")
        for at_least in (1, PAIRS // 2):
            assert watcher.wait_for(lambda got, k=at_least: retired(got) >= k, TIMEOUT), workers[-1].log_tail()
            workers[-1].kill()  # SIGKILL, mid-merge
            workers.append(WorkerProcess(env).start())
        assert watcher.wait_for(
            lambda _: all(owner(f"wecom_external_id:wm{n}") == f"M{n}" for n in range(PAIRS)),
            TIMEOUT,
            alive=workers[-1].alive,
        ), workers[-1].log_tail()
        chats = [
            event(f"x{n}", "chat.message", 0, {"text": "蛋白粉快吃完了"}, wecom_external_id=f"wm{n}")
            for n in range(PAIRS)
        ]
        produce(kafka_bootstrap, topics.events, chats, {}, key="later")
        assert watcher.wait_for(lambda got: len(_replies(got, topics)) >= PAIRS, TIMEOUT, alive=workers[-1].alive), (
            workers[-1].log_tail()
        )
        _check_end(_replies(watcher.received, topics), redis, prefix)
        assert not watcher.of(topics.dlq)
    finally:
        for worker in workers:
            worker.stop()
        watcher.close()
        redis.close()


def _replies(got: list[Received], topics: Topics) -> dict[str, list[Received]]:
    by_id: dict[str, list[Received]] = defaultdict(list)
    for r in got:
        if r.topic == topics.actions("wecom_private") and str(r.value["action_id"]).startswith("replenish:"):
            by_id[str(r.value["action_id"])].append(r)
    return by_id


def _check_end(sent: dict[str, list[Received]], redis: Redis, prefix: str) -> None:
    assert sorted(str(c[0].value["customer_id"]) for c in sent.values()) == sorted(f"M{n}" for n in range(PAIRS))
    for copies in sent.values():  # a re-produced action is the same action
        assert len({orjson.dumps(c.value) for c in copies}) == 1
        member = str(copies[0].value["customer_id"])
        assert copies[0].value["to"] == {"wecom_external_id": f"wm{member[1:]}"}
    for n in range(PAIRS):
        state = orjson.loads(unpack(redis.hget(f"{prefix}:{{wecom_external_id:wm{n}}}:state", "s") or b"{}"))
        assert state["redirect_to"] == f"M{n}"
    assert not [k for k in redis.scan_iter(f"{prefix}:{{*}}:outbox") if redis.hlen(k)]
