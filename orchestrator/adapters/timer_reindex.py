"""Moving timer index entries after the by-customer topic got more partitions.

An entry lives under the partition its customer was on when the timer was set. Once the
topic has more partitions most customers land on another one; their entries would still be
fired by the old partition's pump and never be removed by the new owner (it settles under
the customer's new partition), so they would fire again after every lease. ``reindex``
moves each entry to its customer's partition now: written to the new shard first, then
removed from the old one only if it still has the due time that was copied (an entry set
again meanwhile stays, and the copy is a stale entry the state ignores).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from orchestrator.adapters.redis_ops import Call, Script, eval_many, execute
from orchestrator.adapters.redis_store import SEP, RedisStore

CHUNK = 5_000
# Remove members (pairs member, score) still at the score they were read with.
REMOVE_IF = Script.of("""
local n = 0
for i = 1, #ARGV, 2 do
  local s = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if s and tonumber(s) == tonumber(ARGV[i + 1]) then redis.call('ZREM', KEYS[1], ARGV[i]); n = n + 1 end
end
return n
""")


async def reindex(store: RedisStore, partitions_before: int, partition_of: Callable[[str], int]) -> int:
    """Move the entries of partitions ``0 .. partitions_before - 1`` whose customer ``partition_of``
    puts elsewhere; return how many moved."""
    moved = 0
    for partition in range(partitions_before):
        for key in [*store.timer_keys(partition), store.legacy_timer_key(partition)]:
            moved += await _move_key(store, key, partition, partition_of)
    return moved


async def _move_key(store: RedisStore, key: str, partition: int, partition_of: Callable[[str], int]) -> int:
    moved = 0
    start = 0
    while True:
        [entries] = await execute(store.client, [("ZRANGE", key, start, start + CHUNK - 1, "WITHSCORES")])
        removed = 0
        moves: list[tuple[Any, ...]] = []
        pairs: list[str | bytes | int] = []
        for member, score in entries:
            cid = member.decode().partition(SEP)[0]
            target = partition_of(cid)
            if target != partition or key == store.legacy_timer_key(partition):
                moves.append(("ZADD", store.timer_key(target, cid), int(score), member))
                pairs += [member, int(score)]
        if moves:
            await execute(store.client, moves)  # the new entries are acknowledged before the old go
            [removed] = await eval_many(store.client, REMOVE_IF, [Call([key], pairs)])
            moved += int(removed)
        if len(entries) < CHUNK:
            return moved
        start += CHUNK - int(removed)  # removed entries were in this window: the rest moved down


async def rebuild(store: RedisStore, partition_of: Callable[[str], int], batch: int = 500) -> int:
    """Index every timer a stored state holds that has no entry (after entries were lost, e.g. a
    Redis failover or an append-only file that lost its last second); return how many were added.

    The state is the truth and the index is derived from it; ZADD NX leaves present entries
    (and their leases) alone.
    """
    added = 0
    cids: list[str] = []
    head, tail = f"{store.prefix}:{{", "}:state"
    async for key in store.client.scan_iter(match=f"{head}*{tail}", count=1000):  # every primary on a cluster
        cids.append(key.decode()[len(head) : -len(tail)])
        if len(cids) >= batch:
            added += await _index_states(store, cids, partition_of)
            cids = []
    return added + await _index_states(store, cids, partition_of)


async def _index_states(store: RedisStore, cids: list[str], partition_of: Callable[[str], int]) -> int:
    if not cids:
        return 0
    commands: list[tuple[Any, ...]] = []
    for cid, loaded in (await store.load(cids)).items():
        for timer_id, timer in (loaded.state.timers if loaded.state else {}).items():
            due_ms = int(timer.due_at.timestamp() * 1000)
            commands.append(("ZADD", store.timer_key(partition_of(cid), cid), "NX", due_ms, f"{cid}{SEP}{timer_id}"))
    return sum(int(n) for n in await execute(store.client, commands))
