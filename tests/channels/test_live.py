"""The loop closed on real processes: engine worker → channel worker → receipts → engine."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from orchestrator.adapters.kafka_admin import ensure_topics
from orchestrator.channels.process import ChannelProcess
from orchestrator.harness import Received, TopicWatcher, WorkerProcess, produce, scrape
from orchestrator.service.topics import Topics
from tests.channels.helpers import action_record

pytestmark = pytest.mark.integration
CONFIG = Path(__file__).parent / "config"
TIMEOUT = 60.0


@pytest.fixture
def env(kafka_bootstrap: str, redis_url: str, prefix: str, tmp_path: Path) -> dict[str, str]:
    topics = Topics(prefix)
    names = [topics.events, topics.by_customer, topics.scenarios, topics.dlq]
    names += [topics.actions(c) for c in ("wecom_private", "sms")] + [f"{topics.actions('wecom_private')}.dlq"]
    ensure_topics(kafka_bootstrap, dict.fromkeys(names, 2), {})
    return {
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "REDIS_URL": redis_url,
        "XO_TOPIC_PREFIX": prefix,
        "XO_GROUP_ID": prefix,
        "XO_PARTITIONS": "2",
        "XO_SESSION_TIMEOUT_S": "6",
        "XO_CONTACT_POLICY": "off",
        "XO_FETCH_WAIT_MS": "10",
        "XO_DATA_DIR": str(tmp_path),
        "XO_JOURNEYS_DIR": str(CONFIG / "journeys"),
        "XO_TEMPLATES_DIR": str(CONFIG / "templates"),
    }


@pytest.fixture
def watcher(kafka_bootstrap: str, prefix: str, env: dict[str, str]) -> Iterator[TopicWatcher]:
    topics = Topics(prefix)
    watching = TopicWatcher(
        kafka_bootstrap, [topics.actions("wecom_private"), topics.actions("sms"), topics.events], {}
    )
    yield watching
    watching.close()


def _event(id_: str, member: str, type_: str, data: dict[str, object], **identity: str) -> bytes:
    now = datetime.now(tz=UTC).isoformat()
    return orjson.dumps(
        {"id": id_, "type": type_, "time": now, "identity": {"member_id": member, **identity}, "data": data}
    )


def _steps(got: list[Received], customer: str) -> list[str]:
    return [
        str(r.value["journey"]["step"])  # type: ignore[index]
        for r in got
        if ".actions." in r.topic and r.value.get("customer_id") == customer
    ]


def test_a_reply_receipt_advances_the_wait_for_in_a_live_run(
    env: dict[str, str], kafka_bootstrap: str, prefix: str, watcher: TopicWatcher
) -> None:
    topics = Topics(prefix)
    engine = WorkerProcess(env).start()
    channel = ChannelProcess(env, ["wecom_private", "--sender", "console", "--reply", "好的，谢谢"]).start()
    try:
        assert channel.wait_ready(TIMEOUT), channel.log_tail()
        produce(
            kafka_bootstrap,
            topics.events,
            [
                _event("r1", "L1", "customer.registered", {"name": "王女士"}, wecom_external_id="wm-L1"),
                _event("c1", "L1", "chat.message", {"text": "在吗"}),
            ],
            {},
            key="L1",
        )
        assert watcher.wait_for(
            lambda got: "thanks" in _steps(got, "L1"), TIMEOUT, alive=lambda: engine.alive() and channel.alive()
        ), f"{engine.log_tail()}\n{channel.log_tail()}"
        receipts = [r.value for r in watcher.of(topics.events) if str(r.value.get("type", "")).startswith("message.")]
        kinds = {(str(r["type"]), str(r["data"]["action_id"]).split(":")[3]) for r in receipts}  # type: ignore[index]
        assert {("message.delivered", "ask"), ("message.replied", "ask")} <= kinds
        assert _steps(watcher.received, "L1")[:2] == ["ask", "thanks"]  # not the timeout's SMS
        assert all(r.key == "L1" for r in watcher.of(topics.events) if r.value.get("source") == "channel:wecom_private")
        metrics = scrape(channel.web_port)
        assert metrics['xo_channel_sent_total{channel="wecom_private"}'] >= 1
        assert metrics['xo_channel_receipts_total{channel="wecom_private",type="message.replied"}'] >= 1
    finally:
        channel.stop()
        engine.stop()


def test_a_failed_send_takes_the_journeys_on_failed_path_in_a_live_run(
    env: dict[str, str], kafka_bootstrap: str, prefix: str, watcher: TopicWatcher
) -> None:
    """The webhook receiver is gone (connection refused) and the retry budget is one attempt."""
    topics = Topics(prefix)
    engine = WorkerProcess(env).start()
    dead = "http://127.0.0.1:9/hook"  # the discard port: nothing listens
    args = ["wecom_private", "--sender", "webhook", "--url", dead, "--max-attempts", "1"]
    channel = ChannelProcess({**env, "XO_WEBHOOK_SECRET": "x"}, args).start()
    try:
        assert channel.wait_ready(TIMEOUT), channel.log_tail()
        produce(
            kafka_bootstrap,
            topics.events,
            [
                _event("r2", "L2", "customer.registered", {}, wecom_external_id="wm-L2", phone="+8613800000002"),
                _event("c2", "L2", "chat.message", {"text": "在吗"}),
            ],
            {},
            key="L2",
        )
        assert watcher.wait_for(
            lambda got: "sms" in _steps(got, "L2"), TIMEOUT, alive=lambda: engine.alive() and channel.alive()
        ), f"{engine.log_tail()}\n{channel.log_tail()}"
        [failed] = [r.value for r in watcher.of(topics.events) if r.value.get("type") == "message.failed"]
        assert failed["data"]["reason"] == "retries_exhausted"  # type: ignore[index]
        assert _steps(watcher.received, "L2") == ["ask", "sms"]
    finally:
        channel.stop()
        engine.stop()


@pytest.mark.slow
def test_a_killed_channel_worker_restarted_misses_nothing_and_never_sends_late(
    env: dict[str, str], kafka_bootstrap: str, prefix: str, tmp_path: Path
) -> None:
    topics = Topics(prefix)
    start = datetime.now(tz=UTC)
    sent = tmp_path / "sent.jsonl"
    args = ["wecom_private", "--sender", "file", "--out", str(sent), "--rate", "25", "--burst", "1"]
    watcher = TopicWatcher(kafka_bootstrap, [topics.events], {})
    first = ChannelProcess(env, args).start()
    second: ChannelProcess | None = None
    try:
        assert first.wait_ready(TIMEOUT), first.log_tail()
        # Every fourth action must be sent within 5 s (4 s with the margin): the first of them
        # go out before the kill, the rest expire while the group waits out the dead member.
        records = [
            action_record(
                1000 + n, ttl=timedelta(seconds=5) if n % 4 == 0 else timedelta(hours=1), customer=f"K{n % 20}"
            )
            for n in range(200)
        ]
        ids = {str(orjson.loads(r)["action_id"]) for r in records}
        short = {str(orjson.loads(r)["action_id"]) for r in records[::4]}
        for k in range(20):
            produce(kafka_bootstrap, topics.actions("wecom_private"), records[k::20], {}, key=f"K{k}")
        deadline = datetime.now(tz=UTC) + timedelta(seconds=TIMEOUT)
        while len(_lines(sent)) < 50:
            assert datetime.now(tz=UTC) < deadline, first.log_tail()
            assert first.alive(), first.log_tail()
            watcher.poll()  # the wait here is for the file to grow; polling the topic meanwhile
        first.kill()
        second = ChannelProcess(env, args).start()
        outcomes = lambda got: {str(r.value["data"]["action_id"]) for r in got}  # type: ignore[index]  # noqa: E731
        assert watcher.wait_for(lambda got: outcomes(got) >= ids, 3 * TIMEOUT, alive=second.alive), second.log_tail()
    finally:
        watcher.close()
        first.kill()
        if second is not None:
            second.stop()
    lines = _lines(sent)
    delivered = [line["action"]["action_id"] for line in lines]
    late = [
        ln for ln in lines if datetime.fromisoformat(ln["sent_at"]) > datetime.fromisoformat(ln["action"]["not_after"])
    ]
    assert late == []
    kinds: dict[str, set[str]] = {}
    for r in watcher.received:
        kinds.setdefault(str(r.value["data"]["action_id"]), set()).add(str(r.value["type"]))  # type: ignore[index]
    expired = {a for a, k in kinds.items() if "message.failed" in k}
    assert set(delivered) | expired == ids  # every action was sent or reported expired
    assert not set(delivered) & expired
    assert expired, "the run was meant to outlast some not_after"
    assert expired <= short
    assert set(delivered) & short, "some short-lived actions were meant to go out in time"
    duplicates = len(delivered) - len(set(delivered))
    assert duplicates <= 2  # at most the send in flight per partition at the kill reached the provider twice
    print(
        f"sent {len(set(delivered))}, expired {len(expired)}, re-sent after the kill {duplicates}, took "
        f"{(datetime.now(tz=UTC) - start).total_seconds():.1f}s"
    )


def _lines(path: Path) -> list[dict[str, dict[str, str]]]:
    if not path.exists():
        return []
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]
