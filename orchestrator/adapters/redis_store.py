"""StateStore on Redis 7 or a Redis Cluster: one pipelined read and one write per batch.

Keys of a customer share its hash tag, so every Lua script touches one slot:

    <p>:{<cid>}:state             hash  v = version, s = state (JSON, packed: core/packing.py)
    <p>:{<cid>}:outbox            hash  key (action_id / hit_id) → record JSON, until acknowledged
    <p>:timers:{p<n>:<shard>}     zset  "<cid>\\x1f<timer_id>" scored by due time (ms)

The timer index of partition n is spread over ``shards`` keys (a customer's shard is a
stable hash of its id), so on a cluster one partition's timers live in several slots
and on several nodes; the pump of a partition reads all its shards. The index is written
*before* the state commit that relies on it and acknowledged first: on a single Redis one
in-order pipeline does that; on a cluster (whose pipelines run per node, in parallel) the
index writes are one awaited round trip and the state commits a second.

Earlier releases kept one key per partition, ``<p>:timers:{p<n>}``: its entries are moved
into their shard as they come due (``due_timers``), so an upgrade loses no timer.
"""

from __future__ import annotations

import heapq
import zlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from operator import itemgetter
from typing import Any

import orjson

from orchestrator.adapters.redis_ops import Call, Client, Script, eval_many, execute, is_cluster
from orchestrator.core import CustomerState
from orchestrator.core.migrations import StateTooNew, StateUnreadable, dump_state, load_state, pack_state
from orchestrator.errors import TransientError
from orchestrator.service.ports import Commit, Loaded, OutRecord, Settle, TimerRef

# Compare the version, then write state and outbox together, or nothing.
COMMIT = Script.of("""
local v = redis.call('HGET', KEYS[1], 'v')
if (v or '0') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'v', ARGV[2], 's', ARGV[3])
for i = 4, #ARGV, 2 do redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1]) end
return 1
""")
# Set the score of each member still at the score it was read with (pairs member, score),
# to ARGV[#ARGV]. An entry removed or re-armed meanwhile (another due time) is left alone.
LEASE = Script.of("""
local n = 0
for i = 1, #ARGV - 1, 2 do
  local s = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if s and tonumber(s) == tonumber(ARGV[i + 1]) then
    redis.call('ZADD', KEYS[1], ARGV[#ARGV], ARGV[i])
    n = n + 1
  end
end
return n
""")
# A customer's stored state and pending outbox in one command (one slot: both keys are the customer's).
LOAD = Script.of("""
return {redis.call('HGET', KEYS[1], 's') or false, redis.call('HGETALL', KEYS[2])}
""")
SEP = "\x1f"
TIMER_SHARDS = 8  # per partition; every worker must agree (see docs/operations.md)


class RedisStore:
    """``packed``: states are written packed (zstd, ~6× smaller); False writes plain JSON, which
    releases before packed states can read (for a rolling upgrade from one). Both are read."""

    def __init__(self, client: Client, prefix: str = "xo", shards: int = TIMER_SHARDS, packed: bool = True) -> None:
        self.client = client
        self.prefix = prefix
        self.shards = shards
        self.packed = packed
        self.cluster = is_cluster(client)

    def state_key(self, cid: str) -> str:
        return f"{self.prefix}:{{{cid}}}:state"

    def outbox_key(self, cid: str) -> str:
        return f"{self.prefix}:{{{cid}}}:outbox"

    def timer_key(self, partition: int, cid: str) -> str:
        """The index shard that holds ``cid``'s timers of ``partition``."""
        return self.shard_key(partition, zlib.crc32(cid.encode()) % self.shards)

    def shard_key(self, partition: int, shard: int) -> str:
        return f"{self.prefix}:timers:{{p{partition}:{shard}}}"

    def legacy_timer_key(self, partition: int) -> str:
        return f"{self.prefix}:timers:{{p{partition}}}"

    def timer_keys(self, partition: int) -> list[str]:
        return [self.shard_key(partition, shard) for shard in range(self.shards)]

    async def load(self, customer_ids: Sequence[str]) -> dict[str, Loaded]:
        calls = [Call([self.state_key(cid), self.outbox_key(cid)], ()) for cid in customer_ids]
        replies = await eval_many(self.client, LOAD, calls)
        loaded: dict[str, Loaded] = {}
        for cid, (raw_state, raw_outbox) in zip(customer_ids, replies, strict=True):
            outbox = {raw_outbox[i].decode(): _record(raw_outbox[i + 1]) for i in range(0, len(raw_outbox), 2)}
            try:
                state = _state(raw_state, cid) if raw_state else None
            except StateUnreadable as exc:  # the customer is quarantined; the partition goes on
                loaded[cid] = Loaded(None, outbox, unloadable=describe(exc))
                continue
            loaded[cid] = Loaded(state, outbox)
        return loaded

    async def commit(self, commits: Sequence[Commit]) -> list[str]:
        if not commits:
            return []
        index = self._index_adds([ref for commit in commits for ref in commit.timers_due])
        calls = [self._commit_call(commit) for commit in commits]
        if self.cluster:
            await execute(self.client, index, raw=True)  # indexes acknowledged before any state is written
            replies = await eval_many(self.client, COMMIT, calls)
        else:  # one connection runs the pipeline in order: one round trip keeps the same order
            replies = await eval_many(self.client, COMMIT, calls, before=index)
        return [c.customer_id for c, ok in zip(commits, replies, strict=True) if ok != 1]

    def _commit_call(self, commit: Commit) -> Call:
        args: list[str | bytes | int] = [
            str(commit.expected_version),
            str(commit.state.version),
            pack_state(commit.state) if self.packed else dump_state(commit.state),
        ]
        for key, record in commit.outbox.items():
            args += [key, _dump_record(record)]
        return Call([self.state_key(commit.customer_id), self.outbox_key(commit.customer_id)], args)

    def _index_adds(self, refs: Sequence[TimerRef]) -> list[tuple[Any, ...]]:
        """One ZADD per index shard for all of ``refs`` (pairs in order: a timer set twice in one
        batch ends at its last due time, as one ZADD per timer did)."""
        pairs: dict[str, list[str | int]] = defaultdict(list)
        for ref in refs:
            pairs[self.timer_key(ref.partition, ref.customer_id)] += [ref.due_ms, _member(ref)]
        return [("ZADD", key, *args) for key, args in pairs.items()]

    async def settle(self, settles: Sequence[Settle]) -> None:
        commands: list[tuple[Any, ...]] = []
        done: dict[str, list[str]] = defaultdict(list)  # one ZREM per index shard
        for settle in settles:
            if settle.sent:
                commands.append(("HDEL", self.outbox_key(settle.customer_id), *settle.sent))
            for ref in settle.timers_done:
                done[self.timer_key(ref.partition, ref.customer_id)].append(_member(ref))
        commands += [("ZREM", key, *members) for key, members in done.items()]
        await execute(self.client, commands, raw=True)

    async def due_timers(self, partitions: Sequence[int], now_ms: int, limit: int) -> list[TimerRef]:
        shards = [(p, key) for p in partitions for key in self.timer_keys(p)]
        keys = [*shards, *((p, self.legacy_timer_key(p)) for p in partitions)]
        replies = await execute(
            self.client,
            [("ZRANGEBYSCORE", key, "-inf", now_ms, "LIMIT", 0, limit, "WITHSCORES") for _, key in keys],
            raw=True,
        )
        # Every key may give ``limit`` entries and only ``limit`` of them all are used: plain tuples
        # first (shards before the legacy keys, as the stable order of ties), refs for the chosen.
        found = [
            (int(float(score)), partition, member, n >= len(shards))
            for n, ((partition, _), reply) in enumerate(zip(keys, replies, strict=True))
            for member, score in _pairs(reply)
        ]
        legacy = [_ref(entry) for entry in found if entry[3]]
        if legacy:
            await self._move_legacy(legacy)
        return [_ref(entry) for entry in heapq.nsmallest(limit, found, key=itemgetter(0))]

    async def _move_legacy(self, refs: Sequence[TimerRef]) -> None:
        """Entries of the pre-shard key go to their shard first, then leave the old key."""
        await execute(self.client, self._index_adds(refs))
        await execute(self.client, [("ZREM", self.legacy_timer_key(r.partition), _member(r)) for r in refs])

    async def lease_timers(self, timers: Sequence[TimerRef], until_ms: int) -> None:
        by_key: dict[str, list[str | bytes | int]] = defaultdict(list)
        for ref in timers:
            by_key[self.timer_key(ref.partition, ref.customer_id)] += [_member(ref), ref.due_ms]
        await eval_many(self.client, LEASE, [Call([key], [*pairs, until_ms]) for key, pairs in by_key.items()])


def _pairs(reply: Sequence[Any]) -> Iterable[tuple[bytes, bytes | float]]:
    """(member, score) of a WITHSCORES reply: flat as Redis sends it (a single Redis, raw) or paired
    by redis-py's parser (a cluster's pipeline parses every reply)."""
    if reply and isinstance(reply[0], list | tuple):
        return reply  # redis-py's pairs
    return zip(reply[::2], reply[1::2], strict=True)


def _ref(entry: tuple[int, int, bytes, bool]) -> TimerRef:
    cid, _, timer_id = entry[2].decode().partition(SEP)
    return TimerRef(entry[1], cid, timer_id, entry[0])


def describe(exc: ValueError) -> str:
    """Why a stored state does not load, naming the fields (bounded: it travels in dead letters)."""
    text = str(exc)
    return text if len(text) <= 500 else f"{text[:500]}…"


def _state(raw: bytes, cid: str) -> CustomerState:
    try:
        return load_state(raw, cid)
    except StateTooNew as exc:  # a newer worker wrote it: wait for one to own the partition
        raise TransientError(str(exc)) from exc


def _member(ref: TimerRef) -> str:
    return f"{ref.customer_id}{SEP}{ref.timer_id}"


def _dump_record(record: OutRecord) -> bytes:
    return orjson.dumps({"t": record.topic, "k": record.key, "v": record.value.decode()})


def _record(raw: bytes) -> OutRecord:
    data = orjson.loads(raw)
    return OutRecord(data["t"], data["k"], data["v"].encode())
