"""The timer pump: due timers of the partitions this worker owns go back into the stream.

A due timer becomes a record on the by-customer topic, keyed by its customer, so it is
processed in order with that customer's events by the same handler. After the produce
is acknowledged the index entry is leased (pushed ``lease`` into the future) rather than
removed: the handler removes it once the timer's effects are committed, and if the
record were lost the lease expires and the timer fires again (the core ignores a timer
that already fired).

The lease only moves an entry that still has the due time the pump read: between the
read and the acks (up to ``BATCH`` records) the handler may already have fired the timer
and set it again (an instance's next wait reuses the timer id), and that new due time
must not be pushed back by the lease.

``run`` is the pump's loop: one round after the other, never two at once; when a round
hands over a full batch, more are due (a backlog after a restart or an outage), and the
next round starts at once instead of after ``interval`` — but never more than ``AHEAD``
timer records ahead of what the process stage has worked through (``Backlog``). Without
that bound a backlog larger than the process stage can handle within the lease (60 s;
~1,600 timers/s per worker measured) would be handed over in seconds, its leases would
run out while the records still wait in the topic, and every one of them would be fired
again, and again a minute later: the backlog would snowball.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta

from orchestrator.core import TimerFired
from orchestrator.service import codec
from orchestrator.service.ports import Clock, OutRecord, Publisher, StateStore, TimerRef
from orchestrator.service.topics import Topics

LEASE = timedelta(seconds=60)
BATCH = 1000
AHEAD = 2 * BATCH  # timer records handed over and not yet processed, at most
PATIENCE_S = 5.0  # no progress for this long: the records went to another worker (a rebalance)


def timer_record(topics: Topics, ref: TimerRef) -> OutRecord:
    fired = TimerFired(
        customer_id=ref.customer_id,
        timer_id=ref.timer_id,
        due_at=datetime.fromtimestamp(ref.due_ms / 1000, tz=UTC),
    )
    return OutRecord(topics.by_customer, ref.customer_id, codec.encode_timer(fired))


async def pump_once(
    store: StateStore, publisher: Publisher, clock: Clock, topics: Topics, partitions: Sequence[int]
) -> list[TimerRef]:
    """Hand every due timer of ``partitions`` to the stream (at most ``BATCH``); return them."""
    if not partitions:
        return []
    now_ms = int(clock.now().timestamp() * 1000)
    due = await store.due_timers(partitions, now_ms, BATCH)
    if not due:
        return []
    await publisher.publish([timer_record(topics, ref) for ref in due])
    await store.lease_timers(due, now_ms + int(LEASE.total_seconds() * 1000))
    return due


class Backlog:
    """Timer records this worker's pump handed over that its process stage has not yet worked through."""

    def __init__(self, ahead: int = AHEAD, patience: float = PATIENCE_S) -> None:
        self.ahead = ahead
        self.patience = patience
        self.in_flight = 0
        self._progress = asyncio.Event()

    def handed_over(self, count: int) -> None:
        self.in_flight += count

    def processed(self, count: int) -> None:
        """The process stage finished a batch of ``count`` inputs (any kind: they are ahead of the timers)."""
        self.in_flight = max(0, self.in_flight - count)
        self._progress.set()

    async def room(self) -> None:
        """Return once no more than ``ahead`` records are in flight, or after ``patience`` without progress."""
        while self.in_flight > self.ahead:
            self._progress.clear()
            try:
                await asyncio.wait_for(self._progress.wait(), self.patience)
            except TimeoutError:
                self.in_flight = 0  # they are being processed elsewhere: stop counting them
                return


async def run(round_: Callable[[], Awaitable[int]], interval: float, backlog: Backlog) -> None:
    """Call ``round_`` forever, one call at a time: at once again after a full batch, else after
    ``interval``; never more than ``backlog.ahead`` records ahead of the process stage."""
    while True:
        fired = await round_()
        backlog.handed_over(fired)
        await backlog.room()
        if fired < BATCH:
            await asyncio.sleep(interval)  # the pump's period: nothing to await, timers come due with time
