"""`orchestrator backfill` against a real Redis and broker: states stored once, timers on the right partition."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from redis.asyncio import Redis

from orchestrator.adapters.kafka_admin import ensure_topics
from orchestrator.adapters.kafka_partitioner import partition_for
from orchestrator.adapters.redis_store import RedisStore
from orchestrator.cli import main
from orchestrator.core.migrations import load_state

pytestmark = pytest.mark.integration
EVENTS = Path(__file__).resolve().parents[1] / "fixtures" / "events"
UNTIL = "2026-12-30T10:00:00+08:00"


async def test_keys_land_where_the_timer_index_expects(kafka_bootstrap: str, prefix: str) -> None:
    topic = f"{prefix}.events"
    ensure_topics(kafka_bootstrap, {topic: 8}, {})
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        for cid in ["M1001", "R3001", "wecom_external_id:wm-1", "phone:+8613800000000", "客户-甲"]:
            meta = await producer.send_and_wait(topic, b"{}", key=cid.encode())
            assert meta.partition == partition_for(cid, 8), cid
    finally:
        await producer.stop()


async def test_backfill_writes_each_customer_once(
    redis_url: str,
    redis_client: Redis,
    prefix: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("XO_TOPIC_PREFIX", prefix)
    monkeypatch.setenv("XO_PARTITIONS", "4")
    files = [str(EVENTS / "replenish.jsonl"), str(EVENTS / "car-service.jsonl")]
    assert await asyncio.to_thread(main, ["backfill", *files, "--until", UNTIL]) == 0  # the command runs its own loop
    first = capsys.readouterr().out
    states = {k.decode() for k in await redis_client.keys(f"{prefix}:{{*}}:state")}
    assert states
    assert f"wrote {len(states)} state(s)" in first
    raw = await redis_client.hget(f"{prefix}:{{R3001}}:state", "s")
    stored = load_state(raw)  # fields at their defaults are not written (migrations.dump_state)
    assert stored.instances == {}
    assert stored.profile.orders == 2
    timers = stored.timers
    for timer_id in timers:
        index = RedisStore(redis_client, prefix).timer_key(partition_for("R3001", 4), "R3001")
        assert await redis_client.zscore(index, f"R3001\x1f{timer_id}") is not None
    assert await redis_client.keys(f"{prefix}:{{*}}:outbox") == []  # nothing to send

    assert (
        await asyncio.to_thread(main, ["backfill", *files, "--until", UNTIL]) == 0
    )  # the command runs its own loop  # again, e.g. after a crash
    again = capsys.readouterr().out
    assert f"wrote 0 state(s), indexed 0 detector timer(s); {len(states)} customer(s) already had a state" in again
    assert await redis_client.hget(f"{prefix}:{{R3001}}:state", "s") == raw


async def test_backfill_from_a_topic_since_a_moment(
    kafka_bootstrap: str, prefix: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    topic = f"{prefix}.events"
    ensure_topics(kafka_bootstrap, {topic: 3}, {})
    lines = [line for line in (EVENTS / "replenish.jsonl").read_bytes().splitlines() if line.strip()]
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        for line in [*lines, b"not json"]:
            await producer.send_and_wait(topic, line)
    finally:
        await producer.stop()
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", kafka_bootstrap)
    since = "2026-10-15T00:00:00+08:00"
    later = [line for line in lines if json.loads(line)["time"] >= since]  # same offset everywhere in the file
    assert 0 < len(later) < len(lines)
    args = ["backfill", "--topic", topic, "--since", since, "--dry-run", "--until", UNTIL]
    assert await asyncio.to_thread(main, args) == 0
    out = capsys.readouterr()
    assert f"folded {len(later)} event(s)" in out.out
    assert "rejected line" in out.err  # the broken record is reported, not fatal
    assert await asyncio.to_thread(main, ["backfill", "--topic", f"{prefix}.nothing", "--dry-run"]) == 2
    assert "does not exist" in capsys.readouterr().err
