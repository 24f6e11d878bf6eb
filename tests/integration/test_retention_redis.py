"""`orchestrator retain` against a real Redis: inactive customers reduced, paced, resumable, never racing a commit."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from redis.asyncio import Redis

from orchestrator.adapters.redis_erasure import RedisStatePages
from orchestrator.adapters.redis_store import RedisStore
from orchestrator.cli import main
from orchestrator.core.migrations import load_state
from orchestrator.service.ports import Commit
from orchestrator.service.retention import SweepRequest, Swept, sweep

pytestmark = pytest.mark.integration
EVENTS = Path(__file__).resolve().parents[1] / "fixtures" / "events"


@pytest.fixture
async def backfilled(redis_url: str, redis_client: Redis, prefix: str, monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("XO_TOPIC_PREFIX", prefix)
    monkeypatch.setenv("XO_PARTITIONS", "2")
    files = [str(EVENTS / name) for name in ("replenish.jsonl", "car-service.jsonl", "winback-dormant.jsonl")]
    assert await asyncio.to_thread(main, ["backfill", *files, "--until", "2026-12-30T10:00:00+08:00"]) == 0
    return len(await redis_client.keys(f"{prefix}:{{*}}:state"))


async def test_dry_run_changes_nothing_then_the_sweep_reduces_and_frees(
    backfilled: int, redis_client: Redis, prefix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    before = {k: await redis_client.hget(k, "s") for k in await redis_client.keys(f"{prefix}:{{*}}:state")}
    capsys.readouterr()
    assert await asyncio.to_thread(main, ["retain", "--inactive-days", "1", "--dry-run", "--rate", "100000"]) == 0
    dry = capsys.readouterr().out
    assert f"looked at {backfilled} customer(s); would reduce" in dry
    assert {k: await redis_client.hget(k, "s") for k in before} == before

    assert await asyncio.to_thread(main, ["retain", "--inactive-days", "1", "--rate", "100000"]) == 0
    out = capsys.readouterr().out
    reduced = int(out.split("; reduced ")[1].split(" ")[0])
    assert reduced > 0
    after = {k: await redis_client.hget(k, "s") for k in before}
    assert sum(map(len, after.values())) < sum(map(len, before.values())) / 2
    for raw in after.values():
        state = load_state(raw)
        assert state.profile.orders == 0 or state.instances
    assert (
        await redis_client.zcard(f"{prefix}:timers:{{p0}}") + await redis_client.zcard(f"{prefix}:timers:{{p1}}") == 0
    )

    assert await asyncio.to_thread(main, ["retain", "--inactive-days", "1", "--rate", "100000"]) == 0
    assert "; reduced 0 inactive" in capsys.readouterr().out  # nothing left to reduce


async def test_a_customer_active_meanwhile_is_left_alone(backfilled: int, redis_client: Redis, prefix: str) -> None:
    store = RedisStore(redis_client, prefix=prefix)

    class RacingPages(RedisStatePages):
        async def page(self, cursor: int, count: int):  # type: ignore[no-untyped-def]
            cursor, states = await super().page(cursor, count)
            for state, _ in states[:1]:  # a live event commits between the read and the sweep's write
                busy = state.model_copy(update={"version": state.version + 1})
                assert await store.commit([Commit(state.customer_id, state.version, busy, {})]) == []
            return cursor, states

    request = SweepRequest(now=datetime.now(UTC), inactive_after=timedelta(days=1), per_second=100_000, page_size=1000)
    swept = await sweep(RacingPages(redis_client, store), store, lambda cid: 0, request)
    assert swept.seen == backfilled
    assert swept.raced == 1
    assert swept.reduced == backfilled - 1


async def test_an_interrupted_sweep_resumes_where_it_stopped(backfilled: int, redis_client: Redis, prefix: str) -> None:
    store = RedisStore(redis_client, prefix=prefix)
    request = SweepRequest(now=datetime.now(UTC), inactive_after=timedelta(days=1), per_second=100_000, page_size=3)
    progress: list[Swept] = []

    async def stop_after_first_page(swept: Swept) -> None:
        progress.append(replace(swept))
        raise KeyboardInterrupt  # the process is stopped here

    with pytest.raises(KeyboardInterrupt):
        await sweep(RedisStatePages(redis_client, store), store, lambda cid: 0, request, stop_after_first_page)
    [first] = progress
    assert first.cursor != 0
    assert 0 < first.reduced < backfilled
    rest = await sweep(
        RedisStatePages(redis_client, store), store, lambda cid: 0, replace(request, cursor=first.cursor)
    )
    assert first.seen + rest.seen == backfilled  # the walk went on, not from the start
    assert first.reduced + rest.reduced == backfilled
