"""The audience index on Redis or a Redis Cluster, kept on commit, and the walks' cursors.

    <p>:audience:{p<n>:<shard>}:<journey>   zset, every score 0: "<tz>\\x1f<cid>", read in
                                            lexical order (ZRANGEBYLEX), one zone after another
    <p>:audience-zones:{<journey>}           set: the zones the journey's audience has held
    <p>:audience-cursor:{p<n>}               hash "<journey>\\x1f<tz>" → the walk's cursor (JSON)

A customer's entries live in the shards of their partition (the same slot as the timer
index shard that holds their timers: ``{p<n>:<shard>}``), so the worker that owns a
partition walks its shards and no other worker does. Every command touches one key.

``IndexedStore`` wraps the worker's StateStore (docs/decisions.md §3): the entries of the
audiences a committed state is in are written and acknowledged before the state commit
(an entry is idempotent, so every commit writes its customer's: a customer stored before
the index existed is indexed at their next commit); entries of audiences the customer left
are removed only after their commit succeeded. A stale entry is harmless: the core judges
the customer again when the occurrence reaches them.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from orchestrator.adapters.redis_ops import Client, execute
from orchestrator.adapters.redis_store import TIMER_SHARDS
from orchestrator.audiences import Cursor, Entry, Membership, changes, membership
from orchestrator.core import CustomerState, World
from orchestrator.service.ports import Clock, Commit, Loaded, Settle, StateStore, TimerRef

SEP = "\x1f"
_AFTER_SEP = "\x20"  # the character after SEP: the end of one zone's members in lexical order
REMEMBERED = 100_000  # customers whose last judged membership a worker keeps (~20 MB)
log = logging.getLogger("orchestrator.audiences")


class RedisAudienceIndex:
    def __init__(
        self, client: Client, partition_of: Callable[[str], int], prefix: str = "xo", shards: int = TIMER_SHARDS
    ) -> None:
        self.client = client
        self.partition_of = partition_of  # the by-customer topic's partitioner: the customer's owner
        self.prefix = prefix
        self.shards = shards

    def key(self, partition: int, shard: int, journey: str) -> str:
        return f"{self.prefix}:audience:{{p{partition}:{shard}}}:{journey}"

    def entry_key(self, entry: Entry) -> str:
        cid = entry.customer_id
        return self.key(self.partition_of(cid), zlib.crc32(cid.encode()) % self.shards, entry.journey)

    def zones_key(self, journey: str) -> str:
        return f"{self.prefix}:audience-zones:{{{journey}}}"

    def cursor_key(self, partition: int) -> str:
        return f"{self.prefix}:audience-cursor:{{p{partition}}}"

    async def add(self, entries: Sequence[Entry]) -> None:
        """Write the entries (and their zones); return once Redis acknowledged every one."""
        commands: list[tuple[Any, ...]] = [("ZADD", self.entry_key(e), 0, _member(e)) for e in entries]
        commands += [("SADD", self.zones_key(j), *zones) for j, zones in _zones(entries).items()]
        await execute(self.client, commands)

    async def remove(self, entries: Sequence[Entry]) -> None:
        await execute(self.client, [("ZREM", self.entry_key(e), _member(e)) for e in entries])

    async def zones(self, journey: str) -> list[str]:
        [members] = await execute(self.client, [("SMEMBERS", self.zones_key(journey))])
        return sorted(m.decode() for m in members)

    async def page(self, partition: int, shard: int, journey: str, tz: str, after: str, limit: int) -> list[str]:  # noqa: PLR0913, PLR0917 - the index's coordinates
        """Up to ``limit`` customers of ``tz`` in one shard, in id order, after ``after`` ('': from the first)."""
        low = f"({tz}{SEP}{after}" if after else f"[{tz}{SEP}"
        command = ("ZRANGEBYLEX", self.key(partition, shard, journey), low, f"({tz}{_AFTER_SEP}", "LIMIT", 0, limit)
        [members] = await execute(self.client, [command])
        return [m.decode().partition(SEP)[2] for m in members]

    async def count(self, partition: int, journey: str) -> int:
        """How many entries the journey's audience has in one partition (every zone)."""
        replies = await execute(self.client, [("ZCARD", self.key(partition, s, journey)) for s in range(self.shards)])
        return sum(int(r) for r in replies)

    async def cursors(self, partition: int) -> dict[tuple[str, str], Cursor]:
        """The partition's walk cursors; one that does not read back is logged (naming its key and
        field) and left out, so its walk starts again at its next occurrence."""
        [raw] = await execute(self.client, [("HGETALL", self.cursor_key(partition))])
        found: dict[tuple[str, str], Cursor] = {}
        for field, value in raw.items():
            journey, _, tz = field.decode(errors="replace").partition(SEP)
            try:
                found[(journey, tz)] = Cursor.loads(value)
            except ValueError as exc:
                log.error("%s %r: unreadable, the walk starts again: %s", self.cursor_key(partition), field, exc)
        return found

    async def save(self, partition: int, journey: str, tz: str, cursor: Cursor) -> None:
        await execute(self.client, [("HSET", self.cursor_key(partition), f"{journey}{SEP}{tz}", cursor.dumps())])


class IndexedStore:
    """A StateStore whose commits keep the audience index: entries acknowledged before the state
    commit, removals after it succeeded. Everything else is the wrapped store's."""

    def __init__(self, inner: StateStore, index: RedisAudienceIndex, world: World, clock: Clock) -> None:
        self.inner = inner
        self.index = index
        self.world = world
        self.clock = clock
        self._loaded: dict[str, CustomerState] = {}  # the states the next commits replace
        # The membership of the states this worker committed last, by customer: (version, membership).
        # The next commit of the same customer need not judge the state it replaces again.
        self._judged: dict[str, tuple[int, Membership]] = {}

    async def load(self, customer_ids: Sequence[str]) -> dict[str, Loaded]:
        loaded = await self.inner.load(customer_ids)
        self._loaded = {cid: found.state for cid, found in loaded.items() if found.state is not None}
        return loaded

    async def commit(self, commits: Sequence[Commit]) -> list[str]:
        now = self.clock.now()
        adds: list[Entry] = []
        removals: dict[str, frozenset[Entry]] = {}
        for commit in commits:
            old = self._before(commit.customer_id, now)
            new = _membership(commit.state, self.world, now)
            adds += sorted(new.entries())  # idempotent: also indexes a customer stored before the index
            _, removals[commit.customer_id] = changes(old, new)
            self._remember(commit.customer_id, commit.state.version, new)
        if adds:
            await self.index.add(adds)  # acknowledged before any state that relies on them
        conflicts = await self.inner.commit(commits)
        for cid in conflicts:
            self._judged.pop(cid, None)  # not what is stored: judge it again next time
        stale = [e for cid, gone in removals.items() if cid not in conflicts for e in sorted(gone)]
        if stale:
            await self.index.remove(stale)
        return conflicts

    def _before(self, cid: str, now: datetime) -> Membership | None:
        """The membership of the state a commit replaces (None: a new customer)."""
        before = self._loaded.pop(cid, None)
        if before is None:
            return None
        judged = self._judged.get(cid)
        if judged is not None and judged[0] == before.version:
            return judged[1]
        return _membership(before, self.world, now)

    def _remember(self, cid: str, version: int, judged: Membership) -> None:
        self._judged.pop(cid, None)
        self._judged[cid] = (version, judged)  # most recent last: the oldest is dropped first
        if len(self._judged) > REMEMBERED:
            del self._judged[next(iter(self._judged))]

    async def settle(self, settles: Sequence[Settle]) -> None:
        await self.inner.settle(settles)

    async def due_timers(self, partitions: Sequence[int], now_ms: int, limit: int) -> list[TimerRef]:
        return await self.inner.due_timers(partitions, now_ms, limit)

    async def lease_timers(self, timers: Sequence[TimerRef], until_ms: int) -> None:
        await self.inner.lease_timers(timers, until_ms)


def _membership(state: CustomerState, world: World, now: datetime) -> Membership:
    if state.redirect_to is not None:  # merged into another customer: in no audience
        return Membership(state.customer_id, state.profile.tz, frozenset())
    return membership(state, world, now)


def _member(entry: Entry) -> str:
    return f"{entry.tz}{SEP}{entry.customer_id}"


def _zones(entries: Sequence[Entry]) -> dict[str, set[str]]:
    zones: dict[str, set[str]] = {}
    for entry in entries:
        zones.setdefault(entry.journey, set()).add(entry.tz)
    return zones
