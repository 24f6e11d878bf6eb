"""One pass per input: route, process and fire due timers in one handler call per batch.

The worker reads two topics, co-partitioned (the same partition number holds the same
customers on both): ``xo.events`` as sources key it, and ``xo.events.by-customer``, where
records are keyed by canonical customer id. For one batch:

1. the ``xo.events`` records are routed (service/identify.py, ``sort``: decode, one
   pipelined read of the identity graph, ``owner_of``). A record whose key already is its
   customer's canonical id, read from that customer's *home* partition (the partition its
   id hashes to) of which this worker owns the by-customer side, is processed here, with
   the event it decoded. Every other record (a new WeCom id the graph maps to a member, a
   retired id, a phone, no key, a key on the wrong partition) is re-keyed to the
   by-customer topic under its customer's id, and processed when it comes back there;
2. the timers due on the partitions this worker owns are read (service/timers.py, paced);
3. **one** ``Handler.handle`` call takes, in this order, the by-customer records, the
   records routed here and the due timers, and produces the re-keyed records and the
   routing's dead letters with its own outputs (step 5 of its commit order);
4. the timers the handler could not fire are leased (service/timers.py);
5. the caller commits the batch's offsets.

Order guaranteed per customer: one worker at a time processes a customer (the owner of its
home partition on the by-customer topic). The records a source wrote for one customer under
its canonical id are processed in their offset order; the records re-keyed to the customer
are processed in the order they were re-keyed, and a source's records re-keyed from one
partition keep that partition's order. Between the two streams there is no order: a record
routed here may be processed before one of the same customer's records re-keyed earlier
from another source (detectors and folds use event time, docs/decisions.md §1). A crash
anywhere before the offsets are committed redelivers the batch: re-keyed records may then
arrive twice and the handler's dedupe drops the second copy.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from orchestrator.core.identity import IdentityRules
from orchestrator.service import timers
from orchestrator.service.handler import Handler, InRecord
from orchestrator.service.identify import sort
from orchestrator.service.ports import IdentityGraph, TimerRef
from orchestrator.service.report import BatchReport


@dataclass(frozen=True)
class Batch:
    """What the consumer fetched: records of both topics, and the partitions it owns."""

    arrivals: Sequence[InRecord] = ()  # from xo.events
    keyed: Sequence[InRecord] = ()  # from the by-customer topic
    owned: frozenset[int] = frozenset()  # partitions of the by-customer topic this worker owns


@dataclass
class Done:
    """What a batch did: the routing's report, the handler's, and the timers handed over."""

    routing: BatchReport = field(default_factory=BatchReport)
    processing: BatchReport = field(default_factory=BatchReport)
    timers: list[TimerRef] = field(default_factory=list)
    rekeyed: int = 0
    here: int = 0


@dataclass
class SinglePass:
    handler: Handler
    pacer: timers.Pacer
    home: Callable[[str], int]  # the by-customer partition of a customer id
    graph: IdentityGraph | None = None
    rules: IdentityRules = field(default_factory=IdentityRules)

    async def handle(self, batch: Batch) -> Done:
        handler = self.handler

        def here(record: InRecord, cid: str) -> bool:
            return record.partition in batch.owned and self.home(cid) == record.partition

        routed = await sort(batch.arrivals, handler.topics, self.graph, self.rules, here)
        due = await self.pacer.due(sorted(batch.owned))
        records = [*batch.keyed, *routed.here, *timers.as_records(due, handler.clock.monotonic())]
        done = Done(routed.report, timers=due, here=len(routed.here))
        done.rekeyed = sum(1 for r in routed.out if r.topic == handler.topics.by_customer)
        if records:
            done.processing = await handler.handle(records, routed.out)
        elif routed.out:
            await handler.publisher.publish(routed.out)
        await timers.release(handler.store, due, handler.clock)
        return done
