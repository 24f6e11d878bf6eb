"""The StateStore contract, passed by the in-memory store and by the Redis store."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from orchestrator.adapters.memory_store import MemoryStore
from orchestrator.adapters.redis_ops import Client, is_cluster
from orchestrator.adapters.redis_store import RedisStore
from orchestrator.core import CustomerState
from orchestrator.service.ports import Commit, OutRecord, Settle, StateStore, TimerRef

NOW_MS = int(datetime(2026, 11, 20, tzinfo=UTC).timestamp() * 1000)
ACTION = OutRecord("xo.actions.sms", "C1", '{"action_id":"j:1:i:s:C1","text":"你好"}'.encode())


async def _keys(client: Client, pattern: str) -> set[str]:
    """Matching keys on every node (a cluster client asks one node unless told otherwise)."""
    options = {"target_nodes": "primaries"} if is_cluster(client) else {}
    return {k.decode() for k in await client.keys(pattern, **options)}


def _state(cid: str, version: int) -> CustomerState:
    return CustomerState.new(cid).model_copy(update={"version": version, "seen": (f"e{version}",)})


class StateStoreContract:
    @pytest.fixture
    def store(self) -> StateStore:
        raise NotImplementedError

    async def test_unknown_customers_load_as_new(self, store: StateStore) -> None:
        loaded = await store.load(["C1", "C2"])
        assert loaded["C1"].state is None
        assert loaded["C2"].outbox == {}

    async def test_a_commit_round_trips_state_and_outbox(self, store: StateStore) -> None:
        assert await store.commit([Commit("C1", 0, _state("C1", 1), {"j:1:i:s:C1": ACTION})]) == []
        loaded = (await store.load(["C1"]))["C1"]
        assert loaded.state == _state("C1", 1)
        assert loaded.outbox == {"j:1:i:s:C1": ACTION}

    async def test_a_stale_version_conflicts_and_writes_nothing(self, store: StateStore) -> None:
        await store.commit([Commit("C1", 0, _state("C1", 1), {})])
        conflicts = await store.commit(
            [Commit("C1", 0, _state("C1", 1), {"x": ACTION}), Commit("C2", 0, _state("C2", 1), {})]
        )
        assert conflicts == ["C1"]
        loaded = await store.load(["C1", "C2"])
        assert loaded["C1"].outbox == {}
        assert loaded["C2"].state == _state("C2", 1)

    async def test_settle_marks_the_outbox_sent_and_drops_timers(self, store: StateStore) -> None:
        timer = TimerRef(1, "C1", "cycle:protein", NOW_MS)
        await store.commit([Commit("C1", 0, _state("C1", 1), {"a": ACTION, "b": ACTION}, (timer,))])
        await store.settle([Settle("C1", ("a",), (timer,))])
        assert (await store.load(["C1"]))["C1"].outbox == {"b": ACTION}
        assert await store.due_timers([1], NOW_MS, 10) == []

    async def test_one_batch_sets_and_settles_many_timers_of_one_partition(self, store: StateStore) -> None:
        """A batch's timers go out together (on Redis one ZADD / ZREM per index shard): a timer set
        twice in one batch ends at the due time set last, and settling removes exactly those named."""
        refs = [TimerRef(0, f"C{n}", "t", NOW_MS + n) for n in range(40)]
        twice = (TimerRef(0, "C0", "w", NOW_MS + 500), TimerRef(0, "C0", "w", NOW_MS + 55))
        commits = [Commit(r.customer_id, 0, _state(r.customer_id, 1), {}, (r,)) for r in refs[1:]]
        await store.commit([Commit("C0", 0, _state("C0", 1), {}, (refs[0], *twice)), *commits])
        due = await store.due_timers([0], NOW_MS + 1000, 100)
        assert due == sorted([*refs, twice[1]], key=lambda r: r.due_ms)
        await store.settle([Settle(r.customer_id, (), (r,)) for r in refs[::2]])
        left = await store.due_timers([0], NOW_MS + 1000, 100)
        assert sorted((r.customer_id, r.timer_id) for r in left) == sorted(
            [("C0", "w"), *((r.customer_id, "t") for r in refs[1::2])]
        )

    async def test_due_timers_come_per_partition_oldest_first(self, store: StateStore) -> None:
        refs = [
            TimerRef(0, "C1", "late", NOW_MS + 10),
            TimerRef(0, "C2", "early", NOW_MS - 10),
            TimerRef(1, "C3", "other-partition", NOW_MS - 20),
            TimerRef(0, "C4", "future", NOW_MS + 1000),
        ]
        for ref in refs:
            await store.commit([Commit(ref.customer_id, 0, _state(ref.customer_id, 1), {}, (ref,))])
        due = await store.due_timers([0], NOW_MS + 10, 10)
        assert [(r.customer_id, r.timer_id, r.due_ms) for r in due] == [
            ("C2", "early", NOW_MS - 10),
            ("C1", "late", NOW_MS + 10),
        ]
        assert len(await store.due_timers([0, 1], NOW_MS + 10, 2)) == 2

    async def test_a_leased_timer_is_not_due_until_the_lease_ends(self, store: StateStore) -> None:
        ref = TimerRef(0, "C1", "cycle:x", NOW_MS)
        await store.commit([Commit("C1", 0, _state("C1", 1), {}, (ref,))])
        await store.lease_timers([ref], NOW_MS + 60_000)
        assert await store.due_timers([0], NOW_MS + 1, 10) == []
        [again] = await store.due_timers([0], NOW_MS + 60_000, 10)
        assert again.timer_id == "cycle:x"
        await store.settle([Settle("C1", (), (ref,))])
        await store.lease_timers([ref], NOW_MS)  # a settled entry is not brought back by a lease
        assert await store.due_timers([0], NOW_MS + 120_000, 10) == []

    async def test_a_lease_leaves_an_entry_set_again_since_it_was_read(self, store: StateStore) -> None:
        """The pump leases what it handed over after the acks; the handler may have fired the
        timer and set it again (an instance's next wait) meanwhile: that due time must stay."""
        first = TimerRef(0, "C1", "wait:x", NOW_MS)
        await store.commit([Commit("C1", 0, _state("C1", 1), {}, (first,))])
        [read] = await store.due_timers([0], NOW_MS, 10)
        again = TimerRef(0, "C1", "wait:x", NOW_MS + 6_000)
        await store.commit([Commit("C1", 1, _state("C1", 2), {}, (again,))])
        await store.lease_timers([read], NOW_MS + 60_000)
        assert await store.due_timers([0], NOW_MS + 6_000, 10) == [again]


class TestMemoryStore(StateStoreContract):
    @pytest.fixture
    def store(self) -> StateStore:
        return MemoryStore()


@pytest.mark.integration
class TestRedisStore(StateStoreContract):
    @pytest.fixture
    def store(self, store_client: Client, prefix: str) -> StateStore:
        return RedisStore(store_client, prefix=prefix)

    async def test_keys_share_the_customer_hash_tag(self, store_client: Client, prefix: str) -> None:
        store = RedisStore(store_client, prefix=prefix)
        await store.commit([Commit("C1", 0, _state("C1", 1), {"a": ACTION}, (TimerRef(3, "C1", "t", NOW_MS),))])
        keys = sorted(await _keys(store_client, f"{prefix}:*"))
        shard = store.timer_key(3, "C1")
        assert shard in store.timer_keys(3)
        assert keys == [shard, f"{prefix}:{{C1}}:outbox", f"{prefix}:{{C1}}:state"]

    async def test_scripts_are_loaded_again_where_a_server_forgot_them(self, store_client: Client, prefix: str) -> None:
        """A restarted node (or SCRIPT FLUSH) has no scripts: the calls that got NOSCRIPT run again."""
        store = RedisStore(store_client, prefix=prefix)
        ref = TimerRef(0, "C1", "t", NOW_MS)
        await store.commit([Commit("C1", 0, _state("C1", 1), {}, (ref,))])
        await store_client.script_flush()  # every primary, on a cluster
        assert await store.commit([Commit("C1", 1, _state("C1", 2), {"a": ACTION})]) == []
        await store_client.script_flush()
        await store.lease_timers([ref], NOW_MS + 60_000)
        assert (await store.load(["C1"]))["C1"].state == _state("C1", 2)
        assert await store.due_timers([0], NOW_MS + 1, 10) == []

    async def test_one_partitions_timers_spread_over_its_shards(self, store_client: Client, prefix: str) -> None:
        store = RedisStore(store_client, prefix=prefix)
        refs = [TimerRef(0, f"C{n}", "t", NOW_MS + n) for n in range(64)]
        await store.commit([Commit(r.customer_id, 0, _state(r.customer_id, 1), {}, (r,)) for r in refs])
        used = await _keys(store_client, f"{prefix}:timers:*")
        assert used == set(store.timer_keys(0))  # 64 customers fill all 8 shards
        due = await store.due_timers([0], NOW_MS + 100, 1000)
        assert [r.customer_id for r in due] == [r.customer_id for r in refs]  # oldest first across shards

    async def test_entries_of_the_single_key_layout_move_to_their_shard_when_due(
        self, store_client: Client, prefix: str
    ) -> None:
        store = RedisStore(store_client, prefix=prefix)
        legacy = store.legacy_timer_key(2)  # <prefix>:timers:{p2}, as earlier releases wrote it
        await store_client.zadd(legacy, {"C1\x1fdue": NOW_MS - 5, "C2\x1flater": NOW_MS + 60_000})
        [ref] = await store.due_timers([2], NOW_MS, 10)
        assert ref == TimerRef(2, "C1", "due", NOW_MS - 5)
        assert await store_client.zscore(store.timer_key(2, "C1"), "C1\x1fdue") == NOW_MS - 5
        assert await store_client.zrange(legacy, 0, -1) == [b"C2\x1flater"]  # not due yet: stays for now
        await store.lease_timers([ref], NOW_MS + 60_000)
        assert await store.due_timers([2], NOW_MS + 1, 10) == []
        await store.settle([Settle("C1", (), (ref,))])
        assert [r.timer_id for r in await store.due_timers([2], NOW_MS + 120_000, 10)] == ["later"]
