"""Timer index maintenance on a single Redis and on a Redis Cluster: ``timers-reindex`` moves
each entry to the partition its customer lands on after the topic grew; ``timers-rebuild``
puts back the entries of timers that stored states hold (after a failover lost them)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from orchestrator.adapters.kafka_partitioner import partition_for
from orchestrator.adapters.redis_ops import Client
from orchestrator.adapters.redis_store import RedisStore
from orchestrator.adapters.timer_reindex import rebuild, reindex
from orchestrator.cli import main
from orchestrator.core import CustomerState, Timer
from orchestrator.service.ports import Commit, TimerRef

pytestmark = pytest.mark.integration
NOW_MS = int(datetime(2026, 11, 20, tzinfo=UTC).timestamp() * 1000)
BEFORE, AFTER = 2, 8


async def _index(store: RedisStore, customers: list[str]) -> list[TimerRef]:
    refs = [TimerRef(partition_for(cid, BEFORE), cid, "cycle:protein", NOW_MS + n) for n, cid in enumerate(customers)]
    state = CustomerState.new("x").model_copy(update={"version": 1})
    await store.commit(
        [Commit(r.customer_id, 0, state.model_copy(update={"customer_id": r.customer_id}), {}, (r,)) for r in refs]
    )
    return refs


async def test_entries_move_to_their_customers_new_partition(store_client: Client, prefix: str) -> None:
    store = RedisStore(store_client, prefix=prefix)
    customers = [f"C{n:03d}" for n in range(60)]
    refs = await _index(store, customers)
    await store_client.zadd(store.legacy_timer_key(0), {"L1\x1fwait:x": NOW_MS})  # the pre-shard layout too
    moving = [r for r in refs if partition_for(r.customer_id, AFTER) != r.partition]
    assert moving  # most customers change partition when 2 become 8

    moved = await reindex(store, BEFORE, lambda cid: partition_for(cid, AFTER))

    assert moved == len(moving) + 1
    late = NOW_MS + 10_000
    for partition in range(AFTER):
        due = {r.customer_id for r in await store.due_timers([partition], late, 1000)}
        assert due == {c for c in [*customers, "L1"] if partition_for(c, AFTER) == partition}, partition
    assert await reindex(store, BEFORE, lambda cid: partition_for(cid, AFTER)) == 0  # again: nothing left to move


def test_the_command_refuses_a_count_that_did_not_grow(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], redis_url: str, prefix: str
) -> None:
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("XO_TOPIC_PREFIX", prefix)
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "unused:9092")
    monkeypatch.setenv("XO_PARTITIONS", "4")
    assert main(["timers-reindex", "--from", "4"]) == 2
    assert "must be below XO_PARTITIONS=4" in capsys.readouterr().out
    assert main(["timers-reindex", "--from", "2"]) == 0
    assert "moved 0 timer index entries" in capsys.readouterr().out


async def test_rebuild_indexes_the_timers_states_hold_without_an_entry(store_client: Client, prefix: str) -> None:
    """After a failover lost index writes: the states still hold their timers; the rebuild puts
    their entries back and leaves present ones (a lease) alone."""
    store = RedisStore(store_client, prefix=prefix)
    now = datetime(2026, 11, 20, tzinfo=UTC)
    states = []
    for n in range(30):
        cid = f"R{n:02d}"
        timer = Timer(id="cycle:protein", due_at=now + timedelta(minutes=n))
        states.append(CustomerState.new(cid).model_copy(update={"version": 1, "timers": {timer.id: timer}}))
    await store.commit([Commit(s.customer_id, 0, s, {}) for s in states])  # the index writes were lost
    leased = TimerRef(partition_for("R00", AFTER), "R00", "cycle:protein", NOW_MS + 3_600_000)
    await store_client.zadd(store.timer_key(leased.partition, "R00"), {"R00\x1fcycle:protein": leased.due_ms})

    assert await rebuild(store, lambda cid: partition_for(cid, AFTER)) == 29

    late = int((now + timedelta(hours=2)).timestamp() * 1000)
    due = [r for p in range(AFTER) for r in await store.due_timers([p], late, 1000)]
    assert sorted(r.customer_id for r in due) == [s.customer_id for s in states]
    assert next(r for r in due if r.customer_id == "R00").due_ms == leased.due_ms
    assert all(r.partition == partition_for(r.customer_id, AFTER) for r in due)
    assert await rebuild(store, lambda cid: partition_for(cid, AFTER)) == 0
