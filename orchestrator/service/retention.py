"""The retention sweep: reduce inactive customers to their minimal state, paced and resumable.

The sweep walks stored states in pages (``StatePages``), reduces each inactive one with
``core.retention.minimal`` through the ordinary version-checked commit (a customer whose
state changed meanwhile is active again and is left alone) and drops the index entries of
the timers it no longer has. The page cursor is returned with every page, so an interrupted
sweep resumes where it stopped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from orchestrator.core import CustomerState
from orchestrator.core.migrations import pack_state
from orchestrator.core.retention import is_inactive, minimal
from orchestrator.service.ports import Commit, Settle, StateStore, TimerRef


class StatePages(Protocol):
    async def page(self, cursor: int, count: int) -> tuple[int, list[tuple[CustomerState, int]]]:
        """The next page of (state, stored bytes); cursor 0 when the walk is over."""
        ...


@dataclass
class Swept:
    seen: int = 0
    reduced: int = 0
    raced: int = 0  # changed while being swept: active again, left alone
    bytes_before: int = 0  # of the reduced states
    bytes_after: int = 0
    cursor: int = 0


@dataclass(frozen=True)
class SweepRequest:
    now: datetime
    inactive_after: timedelta
    per_second: float  # pacing: states looked at per second
    dry_run: bool = False
    cursor: int = 0
    page_size: int = 200


async def sweep(
    pages: StatePages,
    store: StateStore,
    partition_of: Callable[[str], int],
    request: SweepRequest,
    on_page: Callable[[Swept], Awaitable[None]] | None = None,
) -> Swept:
    result = Swept(cursor=request.cursor)
    loop = asyncio.get_running_loop()
    while True:
        started = loop.time()
        cursor, states = await pages.page(result.cursor, request.page_size)
        result.seen += len(states)
        stale = [(s, size) for s, size in states if is_inactive(s, request.now, request.inactive_after)]
        if stale and not request.dry_run:
            await _reduce(store, partition_of, stale, result)
        elif stale:
            result.reduced += len(stale)
            result.bytes_before += sum(size for _, size in stale)
            result.bytes_after += sum(len(pack_state(minimal(s))) for s, _ in stale)
        result.cursor = cursor
        if on_page:
            await on_page(result)  # progress, and the cursor to resume from
        if cursor == 0:
            return result
        await asyncio.sleep(max(0.0, len(states) / request.per_second - (loop.time() - started)))


async def _reduce(
    store: StateStore, partition_of: Callable[[str], int], stale: Sequence[tuple[CustomerState, int]], result: Swept
) -> None:
    reduced = [minimal(s) for s, _ in stale]
    conflicts = set(
        await store.commit([Commit(s.customer_id, s.version, m, {}) for (s, _), m in zip(stale, reduced, strict=True)])
    )
    settles = []
    for (state, size), small in zip(stale, reduced, strict=True):
        if state.customer_id in conflicts:
            result.raced += 1
            continue
        result.reduced += 1
        result.bytes_before += size
        result.bytes_after += len(pack_state(small))  # as the store writes it, like bytes_before
        gone = tuple(TimerRef(partition_of(state.customer_id), state.customer_id, t, 0) for t in state.timers)
        if gone:
            settles.append(Settle(state.customer_id, (), gone))
    if settles:
        await store.settle(settles)
