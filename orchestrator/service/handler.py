"""handle(batch): the commit order that makes every effect happen exactly once.

1. decode and validate each record (a record the single pass already decoded, or a due
   timer handed over in-process, is not decoded again); bad input goes to the DLQ (with
   the reason) and is acked with the batch;
2. load the batch's customers in one round trip: state at version v and any outbox
   entries still pending from an earlier crash; the customer is the record's key (the
   canonical id: the routing checked it, or re-keyed the record to it; a due timer names
   its customer). A merged customer's inputs go on to its
   survivor (service/oneid.py, step 1). A stored state that cannot be read back
   quarantines its customer: the customer's inputs go to the DLQ ("quarantined:
   unloadable state: …"), nothing of theirs is written, the partition goes on, and
   ``orchestrator quarantine`` shows and repairs the state;
3. ``core.process`` each input, in order, per customer (pure), yielding to the event loop
   between inputs whenever the batch has held it for ``YIELD_AFTER_S``; then OneID: merge
   steps, links checked, the graph's claims and moves written and acknowledged
   (service/oneid.py);
4. every record to produce is checked against the producer's size limit (a record the
   broker would refuse for good becomes a dead letter in its place); then **one** atomic,
   version-checked commit per customer, all in one round trip: state v+1, new timers, the
   seen event id, and the outbox of actions, hits and such dead letters;
5. produce the outbox (old pending entries first; one too large, written before this check
   existed, is dead-lettered instead) and the DLQ records; await every ack;
6. settle: mark the outbox sent and drop the index entries of timers the state no longer
   has (fired or cancelled, and not set again);
7. return, and the caller acks the batch (offsets are committed after this).

Bad input never stops a partition: a record that does not decode, whose ``data`` nests
deeper than ``MAX_DATA_DEPTH`` (a state holding it could not be read back), that ``process``
refuses (an InputError: a seen event id with other content is a ``conflicting duplicate``)
or that makes ``process`` raise goes to the DLQ, and the customer's other inputs go on (a timer the core
fails on stays in the state and is tried again after its lease). DLQ records are bounded
(payload, reason, key) so that they always fit in a Kafka message.

A crash before 4 changes nothing. A crash between 4 and 6 leaves outbox entries that
are re-produced, byte for byte, when the records are redelivered (the input is then a
duplicate, so nothing is recomputed). Should the records not come back (their offsets
were committed), the commit also set an ``outbox`` sweep timer for the customer: when it
fires, the pending entries are produced then. Duplicates downstream carry the same
action_id.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from orchestrator.core import CustomerState, Event, Input, Outcome, Timer, TimerFired, World, process
from orchestrator.core.effects import Suppressed
from orchestrator.core.population import Observation
from orchestrator.errors import InputError, StateConflict
from orchestrator.service import codec, oneid
from orchestrator.service.deadletter import DLQ_KEY_BYTES, deeper_than, fits, letter, oversize_letter
from orchestrator.service.merging import MergeInput, decode_merge
from orchestrator.service.oneid import OneId
from orchestrator.service.ports import (
    Clock,
    Commit,
    IdentityGraph,
    Loaded,
    OutRecord,
    Publisher,
    Settle,
    StateStore,
    TimerRef,
)
from orchestrator.service.report import OTHER_TYPE, BatchReport, DeadLetterNote, labelled_types
from orchestrator.service.topics import Topics

# A batch holds the event loop at most this long between yields (heartbeats, /metrics and
# /healthz run meanwhile); checked between inputs, so one customer's long run yields too.
YIELD_AFTER_S = 0.005

# The id of the per-customer timer that re-produces an outbox left pending by a crash.
OUTBOX_SWEEP = "outbox"
OUTBOX_SWEEP_AFTER = timedelta(seconds=30)
# Event data nested deeper is rejected: pydantic reads JSON back only to ~200 levels, and a
# customer state that cannot be loaded would stop every later batch of its partition.
MAX_DATA_DEPTH = 32
log = logging.getLogger("orchestrator.handler")


@dataclass(frozen=True)
class InRecord:
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    received: float  # Clock.monotonic() when the worker got it
    # The single pass hands over what it already decoded (an event routed here, a due timer),
    # and the topic it was read from when not the by-customer topic (None: that topic).
    decoded: Input | None = None
    source: str | None = None


@dataclass
class _Customer:
    """One customer's slice of a batch while it is being processed."""

    loaded: Loaded
    partition: int
    inputs: list[tuple[InRecord, Input | MergeInput]] = field(default_factory=list)
    state: CustomerState | None = None
    outbox: dict[str, OutRecord] = field(default_factory=dict)
    timers_due: list[TimerRef] = field(default_factory=list)
    timers_done: list[TimerRef] = field(default_factory=list)
    received: dict[str, float] = field(default_factory=dict)  # outbox key → receipt time
    changed: bool = False
    quarantined: str | None = None  # why the stored state cannot be loaded
    observations: list[Observation] = field(default_factory=list)  # for the population figures


class Handler:
    def __init__(self, world: World, store: StateStore, publisher: Publisher, clock: Clock, topics: Topics) -> None:
        self.world = world
        self.store = store
        self.publisher = publisher
        self.clock = clock
        self.topics = topics
        self.labelled = labelled_types(world.journeys)
        self.oneid: OneId | None = None  # OneID: without a graph, identifiers are not linked

    def use_identity_graph(self, graph: IdentityGraph) -> Handler:
        """Link identifiers and merge customers through ``graph`` (service/oneid.py)."""
        self.oneid = OneId(self.world, graph, self.topics)
        return self

    async def handle(self, records: Sequence[InRecord], also: Sequence[OutRecord] = ()) -> BatchReport:
        """The commit order above for ``records``; ``also``: records to produce with the batch's
        outputs in step 5 (the single pass's re-keyed records and dead letters)."""
        report = BatchReport()
        dlq, decoded = self._decode(records, report)
        customers = await self._load(decoded)
        dlq += oneid.forward_redirected(customers, self.topics, report)
        dlq += await self._process(customers, report)
        if self.oneid is not None:
            await self.oneid.before_commit(customers, self.clock.now(), report)
        sweep_ms = int((self.clock.now() + OUTBOX_SWEEP_AFTER).timestamp() * 1000)  # read once per batch
        commits = [self._commit(cid, c, sweep_ms) for cid, c in customers.items() if c.changed]
        conflicts = await self.store.commit(commits)
        if conflicts:
            raise StateConflict(f"state of {len(conflicts)} customer(s) changed concurrently, e.g. {conflicts[0]}")
        self._observe(customers)
        await self._publish(customers, [*dlq, *also], report)
        return report

    def _commit(self, cid: str, customer: _Customer, sweep_ms: int) -> Commit:
        assert customer.state is not None  # noqa: S101 - set by _process for every customer
        due = list(customer.timers_due)
        if customer.outbox:
            due.append(TimerRef(customer.partition, cid, OUTBOX_SWEEP, sweep_ms))
        version = customer.loaded.state.version if customer.loaded.state else 0
        return Commit(cid, version, customer.state, customer.outbox, tuple(due))

    def _decode(
        self, records: Sequence[InRecord], report: BatchReport
    ) -> tuple[list[OutRecord], list[tuple[str, InRecord, Input | MergeInput]]]:
        dlq: list[OutRecord] = []
        decoded: list[tuple[str, InRecord, Input | MergeInput]] = []
        for record in records:
            try:
                merge = None if record.decoded else decode_merge(record.value)  # OneID: service/merging.py
                cid, inp = (merge.to, merge) if merge else _decoded(record)
                if record.key and not isinstance(inp, TimerFired):
                    cid = record.key.decode(errors="replace")  # the canonical id (routing checked or set it)
                if isinstance(inp, Event) and deeper_than(inp.data, MAX_DATA_DEPTH, record.value):
                    raise InputError(f"invalid event: data: nested deeper than {MAX_DATA_DEPTH} levels", "schema")
            except InputError as exc:
                dlq.append(self._reject(record, exc, report))
                continue
            decoded.append((cid, record, inp))
        return dlq, decoded

    async def _load(self, decoded: list[tuple[str, InRecord, Input | MergeInput]]) -> dict[str, _Customer]:
        ids = list(dict.fromkeys(cid for cid, _, _ in decoded))
        loaded = await self.store.load(ids) if ids else {}
        customers: dict[str, _Customer] = {}
        for cid, record, inp in decoded:
            customer = customers.get(cid)
            if customer is None:
                found = loaded.get(cid) or Loaded(None)  # the store answers for every id asked
                customer = customers[cid] = _Customer(found, record.partition, quarantined=found.unloadable)
            customer.inputs.append((record, inp))
        return customers

    async def _process(self, customers: dict[str, _Customer], report: BatchReport) -> list[OutRecord]:
        """Run the core over every input; return the DLQ records of inputs it failed on."""
        now = self.clock.now()
        dlq: list[OutRecord] = []
        held_since = self.clock.monotonic()
        for cid, customer in customers.items():
            if customer.quarantined is not None:
                dlq += self._quarantine(cid, customer, report)
                continue
            state = customer.loaded.state or CustomerState.new(cid)
            for record, inp in customer.inputs:
                if isinstance(inp, MergeInput):
                    continue  # OneID: run with the batch's graph writes, before the commit
                if self.clock.monotonic() - held_since >= YIELD_AFTER_S:
                    await asyncio.sleep(0)  # let heartbeats, /metrics and /healthz run
                    held_since = self.clock.monotonic()
                try:
                    outcome = process(state, inp, now, self.world)
                except InputError as exc:  # e.g. a conflicting duplicate: the DLQ, with its reason
                    dlq.append(self._reject(record, exc, report))
                    continue
                except Exception as exc:  # a bug one input triggers must not stop its whole partition
                    source = record.source or self.topics.by_customer
                    log.exception("process failed on %s[%d]@%d", source, record.partition, record.offset)
                    reason = f"unprocessable input: {type(exc).__name__}: {exc}"
                    dlq.append(self._reject(record, InputError(reason, "unprocessable"), report))
                    # The state is unchanged: a timer input stays due and comes back after its lease.
                    continue
                self._account(customer, record, inp, outcome, report)
                state = outcome.state
            customer.state = state
        return dlq

    def _quarantine(self, cid: str, customer: _Customer, report: BatchReport) -> list[OutRecord]:
        """Every input of a customer whose stored state cannot be loaded goes to the DLQ."""
        log.error("customer %r quarantined: stored state unloadable: %s", cid, customer.quarantined)
        report.quarantined += 1
        error = InputError(f"quarantined: unloadable state: {customer.quarantined}", "quarantined")
        return [self._reject(record, error, report) for record, _ in customer.inputs]

    def _reject(self, record: InRecord, exc: InputError, report: BatchReport) -> OutRecord:
        return reject(record, exc, record.source or self.topics.by_customer, self.topics, report)

    def _observe(self, customers: dict[str, _Customer]) -> None:
        """Fold what committed inputs taught about the population (medians of repurchase intervals …).

        Each worker keeps the figures of the customers it processed, in memory; after a
        restart they build up again from the seeds in scenarios.yaml.
        """
        observed = [o for c in customers.values() for o in c.observations]
        if observed:
            self.world = self.world.with_population(self.world.population.observe(observed))

    def _account(
        self, customer: _Customer, record: InRecord, inp: Input, outcome: Outcome, report: BatchReport
    ) -> None:
        if isinstance(inp, Event):
            report.events[inp.type if inp.type in self.labelled else OTHER_TYPE] += 1
        else:
            report.timers_fired += 0 if outcome.duplicate else 1
            customer.timers_done.append(TimerRef(customer.partition, inp.customer_id, inp.timer_id, 0))
        if outcome.duplicate:
            report.duplicates += 1
            return
        customer.changed = True
        customer.observations.extend(outcome.observations)
        cid = outcome.state.customer_id
        for action in outcome.actions:
            out = OutRecord(self.topics.actions(action.channel), cid, codec.encode_action(action))
            if fits(out):
                customer.received[action.action_id] = record.received
            else:
                out = oversize_letter(out, f"action {action.action_id[:200]}", self.topics, report)
            customer.outbox[action.action_id] = out
        for hit in outcome.hits:
            out = OutRecord(self.topics.scenarios, cid, codec.encode_hit(hit))
            if not fits(out):
                out = oversize_letter(out, "scenario hit", self.topics, report)
            customer.outbox[hit.hit_id] = out
            report.hits[hit.scenario] += 1
        self._journal(customer, inp, outcome, report)
        for timer in outcome.timers_set:
            customer.timers_due.append(TimerRef(customer.partition, cid, timer.id, _ms(timer)))
        customer.timers_done.extend(TimerRef(customer.partition, cid, t, 0) for t in outcome.timers_cancelled)
        _count(outcome, report)

    def _journal(self, customer: _Customer, inp: Input, outcome: Outcome, report: BatchReport) -> None:
        """One outbox entry per input holds its journey-log records: exactly as reliable as the actions."""
        if outcome.log:
            key = codec.input_key(inp)
            out = OutRecord(self.topics.journey_log, outcome.state.customer_id, codec.encode_log(key, outcome.log))
            if not fits(out):
                out = oversize_letter(out, f"journey log of {key[:200]}", self.topics, report)
            customer.outbox[f"log:{key}"] = out
            report.log_records.update(r.kind for r in outcome.log)
            report.steps.update(
                (r.journey, r.version, r.step or "", r.variant or "none") for r in outcome.log if r.kind == "step"
            )

    async def _publish(self, customers: dict[str, _Customer], dlq: list[OutRecord], report: BatchReport) -> None:
        pending = [
            r if fits(r) else oversize_letter(r, f"outbox entry {key[:200]}", self.topics, report)
            for c in customers.values()
            for key, r in c.loaded.outbox.items()
        ]
        fresh = [r for c in customers.values() for r in c.outbox.values()]
        report.republished = len(pending)
        await self.publisher.publish([*pending, *fresh, *dlq])
        acked = self.clock.monotonic()
        for customer in customers.values():
            for key, received in customer.received.items():
                report.actions.append((customer.outbox[key].topic.rsplit(".", 1)[-1], acked - received))
        settles = []
        for cid, c in customers.items():
            # An index entry is one per (customer, timer id): keep it when the committed state
            # still has that timer (set again: the instance's next wait, a moved cycle timer).
            live = c.state.timers if c.state is not None else {}
            done = [ref for ref in c.timers_done if ref.timer_id not in live]
            if c.loaded.outbox or c.outbox:
                done.append(TimerRef(c.partition, cid, OUTBOX_SWEEP, 0))
            if done:
                settles.append(Settle(cid, (*c.loaded.outbox, *c.outbox), tuple(done)))
        if settles:
            await self.store.settle(settles)


def _count(outcome: Outcome, report: BatchReport) -> None:
    """The outcome's figures into the batch's report. Most are empty for most inputs, and a
    Counter's ``update`` costs even with nothing to add (it checks for a Mapping first)."""
    if outcome.limited:
        report.limited.update(outcome.limited)
    if outcome.journey_events:
        report.journeys.update(outcome.journey_events)
    report.failures.extend(outcome.failures)
    if outcome.suppressed:
        report.suppressed.update((s.reason.split(",")[0], s.channel, _fate(s)) for s in outcome.suppressed)
    if outcome.conversions:
        report.conversions.update((c.journey_id, c.version, c.variant or "") for c in outcome.conversions)


def _ms(timer: Timer) -> int:
    return int(timer.due_at.timestamp() * 1000)


def _decoded(record: InRecord) -> tuple[str, Input]:
    if isinstance(record.decoded, TimerFired):
        return record.decoded.customer_id, record.decoded
    if record.decoded is not None:
        return "", record.decoded  # an event routed here: its key is the customer id
    return codec.decode_input(record.value)


def reject(record: InRecord, exc: InputError, source: str, topics: Topics, report: BatchReport) -> OutRecord:
    """The DLQ record for an input that did not decode, counted by reason; bounded in size."""
    report.rejected[exc.code] += 1
    key = (record.key or b"")[:DLQ_KEY_BYTES].decode(errors="replace")
    where = f"{source}[{record.partition}]@{record.offset}"
    report.dead_letters.append(DeadLetterNote(key if source == topics.by_customer else None, exc.code, where))
    return letter(record.key, record.value, exc, where, topics)


def _fate(suppressed: Suppressed) -> str:
    if suppressed.deferred_until is not None:
        return "deferred"
    return "fell_back" if suppressed.reason.endswith("fell back") else "dropped"
