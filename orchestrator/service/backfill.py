"""Backfill: fold past events into profiles, detectors and population figures, and send nothing.

A retailer moving to the engine has years of orders. ``fold_history`` runs them through the
same core as ``simulate``, in event-time order with timers firing between events, but in a
world without journeys: profiles, scenario occurrences, detector timers and the dedupe window
are built; no journey is entered, so nothing is sent or scheduled for a journey. What the
journeys *would* have sent on that history is worked out by a second, ordinary dry run and
only reported.

``write_states`` then stores each customer's state, version-checked against "no state yet":
a customer who already has a state (live traffic, or an earlier run of the same backfill) is
left alone and counted. That makes a backfill resumable: run it again after a crash and it
writes only what the first run did not. Detector timers still ahead are indexed before their
state (an index entry without a state is harmless; a state whose timer is not indexed would
never fire), on the partition the customer's events land on.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from orchestrator.core import CustomerState, World
from orchestrator.service.ports import Commit, StateStore, TimerRef
from orchestrator.service.simulate import Progress, simulate

WRITE_BATCH = 500


@dataclass(frozen=True)
class History:
    """The folded history: states to store, and what journeys would have done with it."""

    states: dict[str, CustomerState]
    events: int
    rejected: list[tuple[int, str]]
    would_send: Counter[tuple[str, str]]  # (journey id, channel) → actions a live run would have sent


@dataclass
class Written:
    written: int = 0
    present: list[str] = field(default_factory=list)  # already had a state: left alone
    timers: int = 0


def fold_history(
    world: World, lines: Sequence[bytes], until: datetime | None, progress: Progress | None = None
) -> History:
    """Fold ``lines`` (event JSON) without journeys; count what the journeys would have sent."""
    dry = simulate(world, lines, until)
    folded = simulate(replace(world, journeys=()), lines, until, progress)
    would_send = Counter((a.journey.id, a.channel) for a in dry.actions)
    events = len(lines) - len(folded.rejected) - folded.skipped
    return History(folded.states, events, folded.rejected, would_send)


async def write_states(
    store: StateStore,
    states: dict[str, CustomerState],
    partition_of: Callable[[str], int],
    progress: Callable[[int, int], None] | None = None,
) -> Written:
    """Store every state whose customer has none yet; index its detector timers first."""
    result = Written()
    ids = sorted(states)
    for start in range(0, len(ids), WRITE_BATCH):
        chunk = ids[start : start + WRITE_BATCH]
        commits = [_commit(states[cid], partition_of(cid)) for cid in chunk]
        present = set(await store.commit(commits))
        result.present.extend(cid for cid in chunk if cid in present)
        done = [c for c in commits if c.customer_id not in present]
        result.written += len(done)
        result.timers += sum(len(c.timers_due) for c in done)
        if progress:
            progress(start + len(chunk), len(ids))
    return result


def _commit(state: CustomerState, partition: int) -> Commit:
    refs = tuple(
        TimerRef(partition, state.customer_id, t.id, int(t.due_at.timestamp() * 1000)) for t in state.timers.values()
    )
    return Commit(state.customer_id, 0, state, {}, refs)
