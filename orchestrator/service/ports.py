"""What the shell needs from the outside world, as small Protocols.

Adapters: ``adapters.redis_store`` / ``adapters.memory_store`` (StateStore),
``adapters.kafka_publisher`` (Publisher). A failure that is worth retrying raises
TransientError; anything else is a bug.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from orchestrator.core import CustomerState


@dataclass(frozen=True)
class OutRecord:
    """A record to produce. The key decides the partition (the customer's, for timers)."""

    topic: str
    key: str
    value: bytes


@dataclass(frozen=True)
class Loaded:
    """A customer's stored state (None if new) and outbox records not yet acknowledged.

    ``unloadable``: a state is stored but cannot be read back (why); the customer is
    quarantined until an operator repairs or drops it (``orchestrator quarantine``).
    """

    state: CustomerState | None
    outbox: dict[str, OutRecord] = field(default_factory=dict)
    unloadable: str | None = None


@dataclass(frozen=True)
class TimerRef:
    """An entry of a partition's timer index; the customer's state holds the timer itself."""

    partition: int
    customer_id: str
    timer_id: str
    due_ms: int


@dataclass(frozen=True)
class Commit:
    """One customer's atomic write: state at ``expected_version`` + 1, new outbox entries.

    ``timers_due`` are index entries to add *before* the state (a stale index entry is
    harmless, a missing one loses a timer); removals wait until the commit succeeded.
    """

    customer_id: str
    expected_version: int
    state: CustomerState
    outbox: dict[str, OutRecord]
    timers_due: tuple[TimerRef, ...] = ()


@dataclass(frozen=True)
class Settle:
    """After the produce was acknowledged: outbox entries to drop, index entries to remove."""

    customer_id: str
    sent: tuple[str, ...]
    timers_done: tuple[TimerRef, ...] = ()


class StateStore(Protocol):
    async def load(self, customer_ids: Sequence[str]) -> dict[str, Loaded]:
        """Read every customer's state and pending outbox in one round trip."""
        ...

    async def commit(self, commits: Sequence[Commit]) -> list[str]:
        """Write each commit atomically (version-checked); return the ids that conflicted."""
        ...

    async def settle(self, settles: Sequence[Settle]) -> None:
        """Mark outbox entries sent and drop finished timer index entries, in one round trip."""
        ...

    async def due_timers(self, partitions: Sequence[int], now_ms: int, limit: int) -> list[TimerRef]:
        """Index entries due at ``now_ms`` in the given partitions, oldest first."""
        ...

    async def lease_timers(self, timers: Sequence[TimerRef], until_ms: int) -> None:
        """Push entries already handed to the stream to ``until_ms``, so they fire again only if lost."""
        ...


class Publisher(Protocol):
    async def publish(self, records: Sequence[OutRecord]) -> None:
        """Produce all records and return once the broker acknowledged every one."""
        ...


class Clock(Protocol):
    def now(self) -> datetime: ...

    def monotonic(self) -> float: ...


class IdentityGraph(Protocol):
    """Identifier (``<type>:<value>``) → canonical customer id. Every write touches one key."""

    async def resolve(self, keys: Sequence[str]) -> dict[str, str]:
        """The owners of the keys that have one, in one round trip."""
        ...

    async def claim(self, claims: Sequence[tuple[str, str]]) -> dict[str, str]:
        """Give each unowned key to its customer; return every key's owner afterwards (one round trip).

        A key already owned by another customer keeps that owner: the caller turns it into a
        merge or a refused link.
        """
        ...

    async def repoint(self, moves: Sequence[tuple[str, str, str]]) -> None:
        """``(key, from, to)``: keys owned by ``from`` now belong to ``to`` (a merge); others stay."""
        ...

    async def drop(self, owned: Sequence[tuple[str, str]]) -> None:
        """``(key, owner)``: remove keys still owned by ``owner`` (erasure)."""
        ...
