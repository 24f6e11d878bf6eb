"""The hot path's consumer: faust's aiokafka consumer, drained in batches straight into the service.

faust-streaming 0.15 hands every record on its own through ``Consumer._drain_messages``
(``wait_first`` per message), the conductor, a channel queue and the stream iterator, about
160 µs of CPU per record under load; ``take_events`` only batches at the end of that path.
This subclass keeps everything else of faust (group membership, the assignor and its
co-partitioning, rebalances, seeking to committed offsets, the fetcher service, the
consumer thread, the web server, tasks and timers) and replaces the one loop that drains
fetched records: records of the input topics go, a fetch at a time, to ``Runner.run``
(the service's single pass), which commits their offsets once the batch is done.

What it relies on in faust (pinned by tests/adapters/test_faust_batch.py, so that an
upgrade that changes them fails there first): ``Consumer._drain_messages(fetcher)``, run by
the Fetcher service; ``_wait_next_records(timeout) -> (records, active partitions)``;
``flow_active`` and ``perform_seek()`` (records fetched while a rebalance stopped the flow
are dropped and the positions reset to the committed offsets, as faust's ``getmany``
does; a seek that meets a partition already handed on is tried again before the next
records are used); ``wait_empty()``, awaited by faust before partitions are revoked and at stop;
``_commit(offsets)``; ``seek_to_committed()`` (wrapped: a rebalance may revoke a
partition in the middle of it); ``topic_partitions(topic)``; ``_stopped`` and ``consumer_stopped_errors``.

A rebalance waits for the batch in hand: ``wait_empty`` first awaits it (it commits its own
offsets), so a revoked partition's records are either committed here or redelivered to
the next owner, never processed by two workers at once. At stop, faust cancels the drain:
the batch in hand is finished within the shutdown deadline or abandoned unacked.
"""

from __future__ import annotations

import asyncio
import logging
import os
import weakref
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import faust
from aiokafka.errors import IllegalStateError
from faust.transport.drivers import TRANSPORTS
from faust.transport.drivers import aiokafka as faust_aiokafka

from orchestrator.service.shutdown import ShutdownGuard

log = logging.getLogger("orchestrator.worker")
FETCH_WAIT_MS = {"value": 50}

# (records by topic-partition, active topic-partitions) → offsets to commit
BatchCall = Callable[[Mapping[Any, Sequence[Any]], frozenset[Any]], Awaitable[Mapping[Any, int]]]


class Runner:
    """What the consumer hands each fetch to; ``wait_s``: the longest a fetch waits for records
    (the timer pacing needs a call at least that often)."""

    def __init__(self, call: BatchCall, guard: ShutdownGuard, wait_s: float) -> None:
        self.call = call
        self.guard = guard
        self.wait_s = wait_s


_RUNNERS: weakref.WeakKeyDictionary[Any, Runner] = weakref.WeakKeyDictionary()


def attach(app: faust.App, runner: Runner) -> None:
    """Have ``app``'s consumer hand its fetches to ``runner`` (before the worker starts)."""
    _RUNNERS[app] = runner


class _ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    """faust hard-codes a 1.5 s fetch wait; a broker that holds every fetch that long
    (Tansu does) would add it to every hop. Use the configured wait instead."""

    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        # aiokafka reads this attribute when the consumer starts; there is no public setter.
        consumer._fetch_max_wait_ms = FETCH_WAIT_MS["value"]  # noqa: SLF001
        return consumer


class BatchConsumer(faust_aiokafka.Consumer):
    _in_flight: asyncio.Future[Mapping[Any, int]] | None = None

    def _new_consumer_thread(self) -> _ConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    async def _drain_messages(self, fetcher: Any) -> None:
        runner = _RUNNERS.get(self.app)
        if runner is None:  # an app without the single pass: faust's own loop
            await super()._drain_messages(fetcher)
            return
        seek_owed = False
        try:
            # mode's Service keeps its stop flag private; faust's own drain loop reads the same two.
            while not (self._stopped.is_set() or fetcher._stopped.is_set()):  # noqa: SLF001
                records, active = await self._wait_next_records(runner.wait_s)
                if records is None or self.should_stop:
                    return
                if seek_owed or not self.flow_active:
                    # Fetched while a rebalance stopped the flow, or past records dropped before a
                    # seek back that failed: drop them and go back to the committed offsets.
                    seek_owed = not await self._seek_back()
                    continue
                await self._run(runner, records, frozenset(active or ()))
        except self.consumer_stopped_errors:
            if not self.transport.app.should_stop:
                raise
            log.info("broker stopped the consumer while the worker stops")

    async def seek_to_committed(self) -> Mapping[Any, int]:
        """faust's seek (its own drain and its recovery after a rebalance call it), surviving a
        partition revoked under it: aiokafka awaits each partition's committed offset in turn,
        and a rebalance that lands meanwhile makes the next seek raise IllegalStateError. The
        revocation has stopped the flow first, and the assignment that follows is sought again
        by faust's recovery before the flow resumes, so nothing is read from a stale position."""
        try:
            return await super().seek_to_committed()
        except IllegalStateError as exc:
            log.warning("a rebalance moved partitions during a seek to committed offsets (%s)", exc)
            return {}

    async def _seek_back(self) -> bool:
        """Seek every assigned partition to its committed offset; False if the assignment moved
        under the seek (aiokafka: "No current assignment for partition"), to be tried again
        after the next fetch, which waits for the flow to resume."""
        try:
            await self.perform_seek()
        except Exception as exc:  # faust's getmany also survives a failed seek (a warning)
            log.warning("seek back to committed offsets failed (%s); again after the next fetch", exc)
            return False
        return True

    async def _run(self, runner: Runner, records: Mapping[Any, Sequence[Any]], active: frozenset[Any]) -> None:
        fetched = {tp: batch for tp, batch in records.items() if tp in active}
        with runner.guard.batch():
            task = self._in_flight = asyncio.ensure_future(self._batch(runner, fetched, active))
            try:
                await asyncio.shield(task)
            except asyncio.CancelledError:
                # faust stops the drain at shutdown: finish the batch first, or exit unacked.
                try:
                    await asyncio.wait_for(asyncio.shield(task), runner.guard.remaining())
                except Exception:
                    runner.guard.abandon("a batch")
                raise

    async def _batch(
        self, runner: Runner, fetched: Mapping[Any, Sequence[Any]], active: frozenset[Any]
    ) -> Mapping[Any, int]:
        try:
            offsets = await runner.call(fetched, active)
        except Exception:
            log.critical("unexpected error; exiting without committing the batch", exc_info=True)
            os._exit(70)
        if offsets:
            await self._commit(offsets)
        return offsets

    async def wait_empty(self) -> None:
        """Before faust revokes partitions or stops: the batch in hand first (it commits its offsets)."""
        task = self._in_flight
        if task is not None and not task.done():
            await asyncio.wait([task])
        await super().wait_empty()


class _Transport(faust_aiokafka.Transport):
    Consumer = BatchConsumer


TRANSPORTS["xokafka"] = f"{__name__}:_Transport"
