"""Erasure and export on Redis: everything the engine keeps about one customer, read or removed.

Keys of a customer (see ``redis_store``): its state and outbox share the ``{cid}`` slot, so the
erasure of both is one version-checked script; its timer index entries and identity-graph
keys live in other slots and are removed after it (a stale index entry is harmless: a timer
that fires for a tombstone finds no timer and is dropped).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from orchestrator.adapters.redis_ops import Call, Client, Script, eval_many, execute, is_cluster
from orchestrator.adapters.redis_store import RedisStore
from orchestrator.core import CustomerState
from orchestrator.core.migrations import StoredStateError, dump_state, load_state
from orchestrator.core.view import builtins
from orchestrator.errors import StateConflict
from orchestrator.service.ports import Settle, TimerRef

# Compare the version, then replace the state by its tombstone and drop the outbox, or nothing.
ERASE = Script.of("""
local v = redis.call('HGET', KEYS[1], 'v')
if (v or '0') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'v', ARGV[2], 's', ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[4])
redis.call('DEL', KEYS[2])
return 1
""")


@dataclass
class Held:
    """Everything stored about one customer."""

    customer_id: str
    state: CustomerState | None
    outbox: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "customer_id": self.customer_id,
            "state": builtins(self.state) if self.state else None,
            "outbox": self.outbox,
        }


@dataclass(frozen=True)
class Erased:
    customer_id: str
    version: int  # the tombstone's
    outbox_entries: int
    timer_entries: int


class RedisErasure:
    def __init__(self, client: Client, store: RedisStore) -> None:
        self.client = client
        self.store = store

    async def read(self, cid: str) -> Held:
        raw, entries = await execute(
            self.client, [("HGET", self.store.state_key(cid), "s"), ("HGETALL", self.store.outbox_key(cid))]
        )
        state = load_state(raw, cid) if raw else None
        return Held(cid, state, {_text(k): orjson.loads(v) for k, v in entries.items()})

    async def erase(self, held: Held, partition: int, at: datetime, keep_seconds: int) -> Erased:
        """Replace the state by a tombstone kept ``keep_seconds``; StateConflict if it changed since read."""
        version = held.state.version if held.state else 0
        tombstone = CustomerState.new(held.customer_id).model_copy(update={"version": version + 1, "forgotten_at": at})
        keys = [self.store.state_key(held.customer_id), self.store.outbox_key(held.customer_id)]
        args = [str(version), str(version + 1), dump_state(tombstone), str(keep_seconds)]
        [done] = await eval_many(self.client, ERASE, [Call(keys, args)])
        if done != 1:
            raise StateConflict(f"state of {held.customer_id} changed while being erased")
        timers = tuple(TimerRef(partition, held.customer_id, t, 0) for t in (held.state.timers if held.state else ()))
        if timers:
            await self.store.settle([Settle(held.customer_id, (), timers)])
        return Erased(held.customer_id, version + 1, len(held.outbox), len(timers))


def _text(key: bytes | str) -> str:
    return key.decode() if isinstance(key, bytes) else key


class RedisStatePages:
    """Stored states page by page (SCAN): the retention and replay walks. Unreadable states are skipped.

    On one Redis the page cursor is SCAN's, so a walk resumes where it stopped. A cluster has a
    cursor per node: there the walk goes through every primary with one iterator and a resumed
    walk starts over (harmless: what it already did is found done).
    """

    def __init__(self, client: Client, store: RedisStore) -> None:
        self.client = client
        self.match = store.state_key("*")
        self._walk: AsyncIterator[Any] | None = None

    async def page(self, cursor: int, count: int) -> tuple[int, list[tuple[CustomerState, int]]]:
        if is_cluster(self.client):
            cursor, keys = await self._cluster_page(count)
        else:
            cursor, keys = await self.client.scan(cursor, match=self.match, count=count)
        states = []
        for raw in await execute(self.client, [("HGET", key, "s") for key in keys]):
            if raw is None:
                continue
            try:
                states.append((load_state(raw), len(raw)))
            except StoredStateError:
                continue  # quarantined elsewhere; left alone here
        return cursor, states

    async def _cluster_page(self, count: int) -> tuple[int, list[Any]]:
        if self._walk is None:
            self._walk = self.client.scan_iter(match=self.match, count=count)  # every primary
        keys = []
        async for key in self._walk:
            keys.append(key)
            if len(keys) >= count:
                return 1, keys
        self._walk = None
        return 0, keys
