"""Erasure and export on Redis: everything the engine keeps about one customer, read or removed.

Keys of a customer (see ``redis_store``): its state and outbox share the ``{cid}`` slot, so the
erasure of both is one version-checked script; its timer index entries and identity-graph
keys live in other slots and are removed after it (a stale index entry is harmless: a timer
that fires for a tombstone finds no timer and is dropped).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from redis.asyncio import Redis

from orchestrator.adapters.redis_store import RedisStore
from orchestrator.core import CustomerState
from orchestrator.core.migrations import StoredStateError, load_state
from orchestrator.errors import StateConflict
from orchestrator.service.ports import Settle, TimerRef

# Compare the version, then replace the state by its tombstone and drop the outbox, or nothing.
ERASE_LUA = """
local v = redis.call('HGET', KEYS[1], 'v')
if (v or '0') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'v', ARGV[2], 's', ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[4])
redis.call('DEL', KEYS[2])
return 1
"""


@dataclass
class Held:
    """Everything stored about one customer."""

    customer_id: str
    state: CustomerState | None
    outbox: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "customer_id": self.customer_id,
            "state": self.state.model_dump(mode="json") if self.state else None,
            "outbox": self.outbox,
        }


@dataclass(frozen=True)
class Erased:
    customer_id: str
    version: int  # the tombstone's
    outbox_entries: int
    timer_entries: int


class RedisErasure:
    def __init__(self, client: Redis, store: RedisStore) -> None:
        self.client = client
        self.store = store
        self._erase = client.register_script(ERASE_LUA)

    async def read(self, cid: str) -> Held:
        raw = await self.client.hget(self.store.state_key(cid), "s")
        state = load_state(raw) if raw else None
        entries = await self.client.hgetall(self.store.outbox_key(cid))
        return Held(cid, state, {_text(k): orjson.loads(v) for k, v in entries.items()})

    async def erase(self, held: Held, partition: int, at: datetime, keep_seconds: int) -> Erased:
        """Replace the state by a tombstone kept ``keep_seconds``; StateConflict if it changed since read."""
        version = held.state.version if held.state else 0
        tombstone = CustomerState.new(held.customer_id).model_copy(update={"version": version + 1, "forgotten_at": at})
        keys = [self.store.state_key(held.customer_id), self.store.outbox_key(held.customer_id)]
        args = [str(version), str(version + 1), tombstone.model_dump_json(), str(keep_seconds)]
        if await self._erase(keys=keys, args=args) != 1:
            raise StateConflict(f"state of {held.customer_id} changed while being erased")
        timers = tuple(TimerRef(partition, held.customer_id, t, 0) for t in (held.state.timers if held.state else ()))
        if timers:
            await self.store.settle([Settle(held.customer_id, (), timers)])
        return Erased(held.customer_id, version + 1, len(held.outbox), len(timers))


def _text(key: bytes | str) -> str:
    return key.decode() if isinstance(key, bytes) else key


class RedisStatePages:
    """Stored states page by page (SCAN): the retention sweep's walk. Unreadable states are skipped."""

    def __init__(self, client: Redis, store: RedisStore) -> None:
        self.client = client
        self.match = store.state_key("*")

    async def page(self, cursor: int, count: int) -> tuple[int, list[tuple[CustomerState, int]]]:
        cursor, keys = await self.client.scan(cursor, match=self.match, count=count)
        if not keys:
            return cursor, []
        pipe = self.client.pipeline(transaction=False)
        for key in keys:
            pipe.hget(key, "s")
        states = []
        for raw in await pipe.execute():
            if raw is None:
                continue
            try:
                states.append((load_state(raw), len(raw)))
            except StoredStateError:
                continue  # quarantined elsewhere; retention leaves it alone
        return cursor, states
