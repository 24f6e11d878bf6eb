"""Due timers: handed to the partition owner's handler in-process, with the batch of records.

The worker's single pass (service/single_pass.py) asks ``Pacer.due`` for the due timers of
the partitions it owns at most every ``interval`` (at once again after a full batch: a
backlog after a restart or an outage), and hands them to the handler *in the same call* as
the records of its batch, so a customer's timers and events are never processed at once.

The crash guarantees are the handler's commit order:

1. ``due`` reads index entries (oldest first, at most ``limit``); nothing is written;
2. the handler processes each as a ``TimerFired`` input, commits the state that consumed it
   (step 4), produces its effects (step 5) and only then removes the index entry (step 6,
   ``settle``; an entry whose timer the committed state still has, set again, stays);
3. ``release`` leases what is still due at the time it was read, ``LEASE`` into the future:
   only timers the handler could not fire (the core failed on it, the customer is
   quarantined) are left, and they are tried again after the lease instead of every round.

A SIGKILL before 2's commit changes nothing: the entry is due again after the restart. A
SIGKILL between the commit and the removal leaves the entry: handed over again, the core
finds the timer already fired (the state no longer has it at that due time), does nothing,
and the entry is removed. So a timer is never lost and never fires twice.

``pump_once`` and ``timer_record`` are the older hand-over through the by-customer topic
(a record per timer, leased after the produce), kept for the operator tools and tests that
feed timers through Kafka; the worker no longer uses them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from orchestrator.core import TimerFired
from orchestrator.service import codec
from orchestrator.service.handler import InRecord
from orchestrator.service.ports import Clock, OutRecord, Publisher, StateStore, TimerRef
from orchestrator.service.topics import Topics

LEASE = timedelta(seconds=60)
BATCH = 1000
TIMERS_SOURCE = "timers"  # where a timer input "was read", in dead letters and logs


def fired(ref: TimerRef) -> TimerFired:
    return TimerFired(
        customer_id=ref.customer_id,
        timer_id=ref.timer_id,
        due_at=datetime.fromtimestamp(ref.due_ms / 1000, tz=UTC),
    )


def as_records(refs: Sequence[TimerRef], received: float) -> list[InRecord]:
    """Due timers as handler inputs, already decoded (no Kafka record behind them: offset -1; the
    value is what a dead letter of one carries)."""
    records = []
    for ref in refs:
        timer = fired(ref)
        value = codec.encode_timer(timer)
        records.append(InRecord(ref.partition, -1, ref.customer_id.encode(), value, received, timer, TIMERS_SOURCE))
    return records


async def release(store: StateStore, refs: Sequence[TimerRef], clock: Clock) -> None:
    """Step 3: lease the entries the handler left due (only those still at the due time read)."""
    if refs:
        await store.lease_timers(refs, _now_ms(clock) + int(LEASE.total_seconds() * 1000))


@dataclass
class Pacer:
    """When to read the index: every ``interval`` seconds, at once again after a full batch."""

    store: StateStore
    clock: Clock
    interval: float
    limit: int = BATCH
    _next: float = 0.0

    async def due(self, partitions: Sequence[int]) -> list[TimerRef]:
        now = self.clock.monotonic()
        if not partitions or now < self._next:
            return []
        refs = await self.store.due_timers(sorted(partitions), _now_ms(self.clock), self.limit)
        self._next = now if len(refs) >= self.limit else now + self.interval
        return refs


def _now_ms(clock: Clock) -> int:
    return int(clock.now().timestamp() * 1000)


def timer_record(topics: Topics, ref: TimerRef) -> OutRecord:
    return OutRecord(topics.by_customer, ref.customer_id, codec.encode_timer(fired(ref)))


async def pump_once(
    store: StateStore, publisher: Publisher, clock: Clock, topics: Topics, partitions: Sequence[int]
) -> list[TimerRef]:
    """Hand every due timer of ``partitions`` to the by-customer topic (at most ``BATCH``); return them."""
    if not partitions:
        return []
    now_ms = _now_ms(clock)
    due = await store.due_timers(partitions, now_ms, BATCH)
    if not due:
        return []
    await publisher.publish([timer_record(topics, ref) for ref in due])
    await store.lease_timers(due, now_ms + int(LEASE.total_seconds() * 1000))
    return due
