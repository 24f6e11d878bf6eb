"""The identity graph on Redis: one string key per identifier, owned by one customer.

    <prefix>:id:{<type>:<value>}   string  canonical customer id

Each key is its own hash tag, so every command and script touches exactly one slot and the
graph spreads over a Redis Cluster. Reads are one pipelined round trip per batch; claims,
re-points and drops are one-key scripts (compare, then set), pipelined.
Memory: about 90–110 bytes per identifier (key + value + dict entry) on Redis 7; see
docs/identity.md for sizing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ReadOnlyError
from redis.exceptions import TimeoutError as RedisTimeoutError

from orchestrator.errors import TransientError

# SET NX, then the owner either way (SET … NX GET needs Redis 7; this runs on 6.2 too).
CLAIM_LUA = """
local owner = redis.call('GET', KEYS[1])
if owner then return owner end
redis.call('SET', KEYS[1], ARGV[1])
return ARGV[1]
"""
# Compare-and-set: only a key still owned by ARGV[1] moves to ARGV[2] (or is deleted when ARGV[2] is '').
MOVE_LUA = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == '' then redis.call('DEL', KEYS[1]) else redis.call('SET', KEYS[1], ARGV[2]) end
return 1
"""


class RedisIdentityGraph:
    def __init__(self, client: Redis, prefix: str = "xo") -> None:
        self.client = client
        self.prefix = prefix
        self._claim = client.register_script(CLAIM_LUA)
        self._move = client.register_script(MOVE_LUA)

    def key(self, identifier: str) -> str:
        return f"{self.prefix}:id:{{{identifier}}}"

    async def resolve(self, keys: Sequence[str]) -> dict[str, str]:
        if not keys:
            return {}
        pipe = self.client.pipeline(transaction=False)
        for key in keys:
            pipe.get(self.key(key))
        replies = await _run(pipe)
        return {k: v.decode() for k, v in zip(keys, replies, strict=True) if v is not None}

    async def claim(self, claims: Sequence[tuple[str, str]]) -> dict[str, str]:
        if not claims:
            return {}
        pipe = self.client.pipeline(transaction=False)
        for key, cid in claims:
            await self._claim(keys=[self.key(key)], args=[cid], client=pipe)
        replies = await _run(pipe)
        return {key: owner.decode() for (key, _), owner in zip(claims, replies, strict=True)}

    async def repoint(self, moves: Sequence[tuple[str, str, str]]) -> None:
        await self._moves([(key, old, new) for key, old, new in moves])

    async def drop(self, owned: Sequence[tuple[str, str]]) -> None:
        await self._moves([(key, owner, "") for key, owner in owned])

    async def _moves(self, moves: Sequence[tuple[str, str, str]]) -> None:
        if not moves:
            return
        pipe = self.client.pipeline(transaction=False)
        for key, old, new in moves:
            await self._move(keys=[self.key(key)], args=[old, new], client=pipe)
        await _run(pipe)


async def _run(pipe: Pipeline) -> list[Any]:
    try:
        return await pipe.execute()
    except (RedisConnectionError, RedisTimeoutError, ReadOnlyError, OSError) as exc:
        raise TransientError(f"redis identity graph: {exc}") from exc
    finally:
        await pipe.reset()  # type: ignore[no-untyped-call]  # redis-py leaves reset() unannotated
