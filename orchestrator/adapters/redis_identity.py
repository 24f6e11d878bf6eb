"""The identity graph on Redis: one string key per identifier, owned by one customer.

    <prefix>:id:{<type>:<value>}   string  canonical customer id

Each key is its own hash tag, so on a Redis Cluster every command and script touches exactly
one slot and the graph spreads over the nodes (``redis_ops``). Reads are one round trip per
batch: one MGET on a single Redis, a pipelined GET per identifier on a cluster; claims,
re-points and drops are one-key scripts (compare, then set), pipelined.
Memory: about 90–110 bytes per identifier (key + value + dict entry) on Redis 7; see
docs/identity.md for sizing.
"""

from __future__ import annotations

from collections.abc import Sequence

from orchestrator.adapters.redis_ops import Call, Client, Script, eval_many, execute, is_cluster

# SET NX, then the owner either way (SET … NX GET needs Redis 7; this runs on 6.2 too).
CLAIM = Script.of("""
local owner = redis.call('GET', KEYS[1])
if owner then return owner end
redis.call('SET', KEYS[1], ARGV[1])
return ARGV[1]
""")
# Compare-and-set: only a key still owned by ARGV[1] moves to ARGV[2] (or is deleted when ARGV[2] is '').
MOVE = Script.of("""
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == '' then redis.call('DEL', KEYS[1]) else redis.call('SET', KEYS[1], ARGV[2]) end
return 1
""")


class RedisIdentityGraph:
    def __init__(self, client: Client, prefix: str = "xo") -> None:
        self.client = client
        self.prefix = prefix
        self.cluster = is_cluster(client)

    def key(self, identifier: str) -> str:
        return f"{self.prefix}:id:{{{identifier}}}"

    async def resolve(self, keys: Sequence[str]) -> dict[str, str]:
        if not keys:
            return {}
        if self.cluster:  # every identifier is its own slot: one GET each, pipelined
            replies = await execute(self.client, [("GET", self.key(k)) for k in keys])
        else:  # one Redis holds them all: one command
            [replies] = await execute(self.client, [("MGET", *(self.key(k) for k in keys))], raw=True)
        return {k: v.decode() for k, v in zip(keys, replies, strict=True) if v is not None}

    async def claim(self, claims: Sequence[tuple[str, str]]) -> dict[str, str]:
        replies = await eval_many(self.client, CLAIM, [Call([self.key(key)], [cid]) for key, cid in claims])
        return {key: owner.decode() for (key, _), owner in zip(claims, replies, strict=True)}

    async def repoint(self, moves: Sequence[tuple[str, str, str]]) -> None:
        await self._moves([(key, old, new) for key, old, new in moves])

    async def drop(self, owned: Sequence[tuple[str, str]]) -> None:
        await self._moves([(key, owner, "") for key, owner in owned])

    async def _moves(self, moves: Sequence[tuple[str, str, str]]) -> None:
        await eval_many(self.client, MOVE, [Call([self.key(key)], [old, new]) for key, old, new in moves])
