"""StateStore on Redis 7: one pipelined read and one pipelined write per batch.

Keys share the customer's hash tag so every Lua script touches one slot (Cluster-safe):

    <p>:{<cid>}:state    hash  v = version, s = state JSON
    <p>:{<cid>}:outbox   hash  key (action_id / hit_id) → record JSON, until acknowledged
    <p>:timers:{p<n>}    zset  "<cid>\\x1f<timer_id>" scored by due time (ms), per partition
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ReadOnlyError
from redis.exceptions import TimeoutError as RedisTimeoutError

from orchestrator.core import CustomerState
from orchestrator.core.migrations import StateTooNew, StateUnreadable, load_state
from orchestrator.errors import TransientError
from orchestrator.service.ports import Commit, Loaded, OutRecord, Settle, TimerRef

# Compare the version, then write state and outbox together, or nothing.
COMMIT_LUA = """
local v = redis.call('HGET', KEYS[1], 'v')
if (v or '0') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'v', ARGV[2], 's', ARGV[3])
for i = 4, #ARGV, 2 do redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1]) end
return 1
"""
SEP = "\x1f"


class RedisStore:
    def __init__(self, client: Redis, prefix: str = "xo") -> None:
        self.client = client
        self.prefix = prefix
        self._commit = client.register_script(COMMIT_LUA)

    def state_key(self, cid: str) -> str:
        return f"{self.prefix}:{{{cid}}}:state"

    def outbox_key(self, cid: str) -> str:
        return f"{self.prefix}:{{{cid}}}:outbox"

    def timer_key(self, partition: int) -> str:
        return f"{self.prefix}:timers:{{p{partition}}}"

    async def load(self, customer_ids: Sequence[str]) -> dict[str, Loaded]:
        pipe = self.client.pipeline(transaction=False)
        for cid in customer_ids:
            pipe.hget(self.state_key(cid), "s")
            pipe.hgetall(self.outbox_key(cid))
        replies = await _run(pipe)
        loaded: dict[str, Loaded] = {}
        for index, cid in enumerate(customer_ids):
            raw_state, raw_outbox = replies[2 * index], replies[2 * index + 1]
            outbox = {k.decode(): _record(v) for k, v in raw_outbox.items()}
            try:
                state = _state(raw_state) if raw_state else None
            except StateUnreadable as exc:  # the customer is quarantined; the partition goes on
                loaded[cid] = Loaded(None, outbox, unloadable=describe(exc))
                continue
            loaded[cid] = Loaded(state, outbox)
        return loaded

    async def commit(self, commits: Sequence[Commit]) -> list[str]:
        if not commits:
            return []
        pipe = self.client.pipeline(transaction=False)
        for commit in commits:
            for ref in commit.timers_due:  # index first: a stale entry is harmless, a missing one is not
                pipe.zadd(self.timer_key(ref.partition), {_member(ref): ref.due_ms})
            args: list[str | bytes] = [
                str(commit.expected_version),
                str(commit.state.version),
                commit.state.model_dump_json(),
            ]
            for key, record in commit.outbox.items():
                args += [key, _dump_record(record)]
            await self._commit(
                keys=[self.state_key(commit.customer_id), self.outbox_key(commit.customer_id)], args=args, client=pipe
            )
        replies = await _run(pipe)
        return [c.customer_id for c, ok in zip(commits, _script_results(replies, commits), strict=True) if not ok]

    async def settle(self, settles: Sequence[Settle]) -> None:
        pipe = self.client.pipeline(transaction=False)
        for settle in settles:
            if settle.sent:
                pipe.hdel(self.outbox_key(settle.customer_id), *settle.sent)
            for ref in settle.timers_done:
                pipe.zrem(self.timer_key(ref.partition), _member(ref))
        await _run(pipe)

    async def due_timers(self, partitions: Sequence[int], now_ms: int, limit: int) -> list[TimerRef]:
        pipe = self.client.pipeline(transaction=False)
        for partition in partitions:
            pipe.zrangebyscore(self.timer_key(partition), "-inf", now_ms, start=0, num=limit, withscores=True)
        replies = await _run(pipe)
        due = []
        for partition, entries in zip(partitions, replies, strict=True):
            for member, score in entries:
                cid, _, timer_id = member.decode().partition(SEP)
                due.append(TimerRef(partition, cid, timer_id, int(score)))
        return sorted(due, key=lambda r: r.due_ms)[:limit]

    async def lease_timers(self, timers: Sequence[TimerRef], until_ms: int) -> None:
        pipe = self.client.pipeline(transaction=False)
        for ref in timers:
            # XX: only entries still present; one removed meanwhile stays removed.
            pipe.zadd(self.timer_key(ref.partition), {_member(ref): until_ms}, xx=True)
        await _run(pipe)


def describe(exc: ValueError) -> str:
    """Why a stored state does not load, naming the fields (bounded: it travels in dead letters)."""
    text = str(exc)
    return text if len(text) <= 500 else f"{text[:500]}…"


def _script_results(replies: list[object], commits: Sequence[Commit]) -> list[bool]:
    """Pick the script replies out of the pipeline replies (each commit's zadds come first)."""
    results: list[bool] = []
    position = 0
    for commit in commits:
        position += len(commit.timers_due)
        results.append(replies[position] == 1)
        position += 1
    return results


def _state(raw: bytes) -> CustomerState:
    try:
        return load_state(raw)
    except StateTooNew as exc:  # a newer worker wrote it: wait for one to own the partition
        raise TransientError(str(exc)) from exc


def _member(ref: TimerRef) -> str:
    return f"{ref.customer_id}{SEP}{ref.timer_id}"


def _dump_record(record: OutRecord) -> bytes:
    return orjson.dumps({"t": record.topic, "k": record.key, "v": record.value.decode()})


def _record(raw: bytes) -> OutRecord:
    data = orjson.loads(raw)
    return OutRecord(data["t"], data["k"], data["v"].encode())


async def _run(pipe: Pipeline) -> list[Any]:
    try:
        return await pipe.execute()
    except (RedisConnectionError, RedisTimeoutError, ReadOnlyError, OSError) as exc:  # ReadOnly: a failover
        raise TransientError(f"redis: {exc}") from exc
    finally:
        # Give the connection back to the pool: when loading the commit script fails (Redis
        # went away), redis-py's execute() raises before its own reset and keeps it.
        await pipe.reset()  # type: ignore[no-untyped-call]  # redis-py leaves reset() unannotated
