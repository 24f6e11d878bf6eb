"""handle(batch): the commit order that makes every effect happen exactly once.

1. decode and validate each record; bad input goes to the DLQ (with the reason) and is
   acked with the batch;
2. load the batch's customers in one round trip: state at version v and any outbox
   entries still pending from an earlier crash;
3. ``core.process`` each input, in order, per customer (pure);
4. **one** atomic, version-checked commit per customer, all in one round trip: state
   v+1, new timers, the seen event id, and the outbox of actions and hits to send;
5. produce the outbox (old pending entries first) and the DLQ records; await every ack;
6. settle: mark the outbox sent and drop the index entries of timers the state no longer
   has (fired or cancelled, and not set again);
7. return, and the caller acks the batch (offsets are committed after this).

Bad input never stops a partition: a record that does not decode, whose ``data`` nests
deeper than ``MAX_DATA_DEPTH`` (a state holding it could not be read back), or that makes
``process`` raise goes to the DLQ, and the customer's other inputs go on (a timer the core
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
from dataclasses import dataclass, field, replace
from datetime import timedelta

from orchestrator.core import CustomerState, Event, Input, Outcome, Timer, World, process
from orchestrator.core.effects import Suppressed
from orchestrator.core.population import Observation
from orchestrator.errors import InputError, StateConflict
from orchestrator.service import codec
from orchestrator.service.ports import Clock, Commit, Loaded, OutRecord, Publisher, Settle, StateStore, TimerRef
from orchestrator.service.report import BatchReport
from orchestrator.service.topics import Topics

YIELD_EVERY = 50  # customers processed between yields to the event loop

# The id of the per-customer timer that re-produces an outbox left pending by a crash.
OUTBOX_SWEEP = "outbox"
OUTBOX_SWEEP_AFTER = timedelta(seconds=30)
# Event data nested deeper is rejected: pydantic reads JSON back only to ~200 levels, and a
# customer state that cannot be loaded would stop every later batch of its partition.
MAX_DATA_DEPTH = 32
# Bounds of a dead letter: even fully escaped it stays far below Kafka's 1 MB message limit.
DLQ_PAYLOAD_BYTES = 64 * 1024
DLQ_REASON_CHARS = 2_000
DLQ_KEY_BYTES = 1_024
log = logging.getLogger("orchestrator.handler")


@dataclass(frozen=True)
class InRecord:
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    received: float  # Clock.monotonic() when the worker got it


@dataclass
class _Customer:
    """One customer's slice of a batch while it is being processed."""

    loaded: Loaded
    partition: int
    inputs: list[tuple[InRecord, Input]] = field(default_factory=list)
    state: CustomerState | None = None
    outbox: dict[str, OutRecord] = field(default_factory=dict)
    timers_due: list[TimerRef] = field(default_factory=list)
    timers_done: list[TimerRef] = field(default_factory=list)
    received: dict[str, float] = field(default_factory=dict)  # outbox key → receipt time
    changed: bool = False
    observations: list[Observation] = field(default_factory=list)  # for the population figures


class Handler:
    def __init__(self, world: World, store: StateStore, publisher: Publisher, clock: Clock, topics: Topics) -> None:
        self.world = world
        self.store = store
        self.publisher = publisher
        self.clock = clock
        self.topics = topics

    async def handle(self, records: Sequence[InRecord]) -> BatchReport:
        report = BatchReport()
        dlq, decoded = self._decode(records, report)
        customers = await self._load(decoded)
        dlq += await self._process(customers, report)
        conflicts = await self.store.commit([self._commit(cid, c) for cid, c in customers.items() if c.changed])
        if conflicts:
            raise StateConflict(f"state of {len(conflicts)} customer(s) changed concurrently, e.g. {conflicts[0]}")
        self._observe(customers)
        await self._publish(customers, dlq, report)
        return report

    def _commit(self, cid: str, customer: _Customer) -> Commit:
        assert customer.state is not None  # noqa: S101 - set by _process for every customer
        due = list(customer.timers_due)
        if customer.outbox:
            sweep_ms = int((self.clock.now() + OUTBOX_SWEEP_AFTER).timestamp() * 1000)
            due.append(TimerRef(customer.partition, cid, OUTBOX_SWEEP, sweep_ms))
        version = customer.loaded.state.version if customer.loaded.state else 0
        return Commit(cid, version, customer.state, customer.outbox, tuple(due))

    def _decode(
        self, records: Sequence[InRecord], report: BatchReport
    ) -> tuple[list[OutRecord], list[tuple[str, InRecord, Input]]]:
        dlq: list[OutRecord] = []
        decoded: list[tuple[str, InRecord, Input]] = []
        for record in records:
            try:
                cid, inp = codec.decode_input(record.value)
                if isinstance(inp, Event) and _deeper_than(inp.data, MAX_DATA_DEPTH):
                    raise InputError(f"invalid event: data: nested deeper than {MAX_DATA_DEPTH} levels", "schema")
            except InputError as exc:
                dlq.append(reject(record, exc, self.topics.by_customer, self.topics, report))
                continue
            decoded.append((cid, record, inp))
        return dlq, decoded

    async def _load(self, decoded: list[tuple[str, InRecord, Input]]) -> dict[str, _Customer]:
        ids = list(dict.fromkeys(cid for cid, _, _ in decoded))
        loaded = await self.store.load(ids) if ids else {}
        customers: dict[str, _Customer] = {}
        for cid, record, inp in decoded:
            customer = customers.get(cid)
            if customer is None:
                customer = customers[cid] = _Customer(loaded=loaded.get(cid, Loaded(None)), partition=record.partition)
            customer.inputs.append((record, inp))
        return customers

    async def _process(self, customers: dict[str, _Customer], report: BatchReport) -> list[OutRecord]:
        """Run the core over every input; return the DLQ records of inputs it failed on."""
        now = self.clock.now()
        dlq: list[OutRecord] = []
        for index, (cid, customer) in enumerate(customers.items(), start=1):
            if index % YIELD_EVERY == 0:
                await asyncio.sleep(0)  # let heartbeats and the timer pump run during a long batch
            state = customer.loaded.state or CustomerState.new(cid)
            for record, inp in customer.inputs:
                try:
                    outcome = process(state, inp, now, self.world)
                except Exception as exc:  # a bug one input triggers must not stop its whole partition
                    log.exception(
                        "process failed on %s[%d]@%d", self.topics.by_customer, record.partition, record.offset
                    )
                    reason = f"unprocessable input: {type(exc).__name__}: {exc}"
                    dlq.append(
                        reject(
                            record, InputError(reason, "unprocessable"), self.topics.by_customer, self.topics, report
                        )
                    )
                    # The state is unchanged: a timer input stays due and comes back after its lease.
                    continue
                self._account(customer, record, inp, outcome, report)
                state = outcome.state
            customer.state = state
        return dlq

    def _observe(self, customers: dict[str, _Customer]) -> None:
        """Fold what committed inputs taught about the population (medians of repurchase intervals …).

        Each worker keeps the figures of the customers it processed, in memory; after a
        restart they build up again from the seeds in scenarios.yaml.
        """
        observed = [o for c in customers.values() for o in c.observations]
        if observed:
            self.world = replace(self.world, population=self.world.population.observe(observed))

    def _account(
        self, customer: _Customer, record: InRecord, inp: Input, outcome: Outcome, report: BatchReport
    ) -> None:
        if isinstance(inp, Event):
            report.events[inp.type] += 1
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
            customer.outbox[action.action_id] = OutRecord(
                self.topics.actions(action.channel), cid, codec.encode_action(action)
            )
            customer.received[action.action_id] = record.received
        for hit in outcome.hits:
            customer.outbox[hit.hit_id] = OutRecord(self.topics.scenarios, cid, codec.encode_hit(hit))
            report.hits[hit.scenario] += 1
        if outcome.log:  # one entry per input: the journey log is exactly as reliable as the actions
            key = codec.input_key(inp)
            customer.outbox[f"log:{key}"] = OutRecord(self.topics.journey_log, cid, codec.encode_log(key, outcome.log))
            report.log_records.update(r.kind for r in outcome.log)
            report.steps.update(
                (r.journey, r.version, r.step or "", r.variant or "none") for r in outcome.log if r.kind == "step"
            )
        if not isinstance(inp, Event):  # a timer that fired: how late
            report.timer_lateness.append((self.clock.now() - inp.due_at).total_seconds())
        for timer in outcome.timers_set:
            customer.timers_due.append(TimerRef(customer.partition, cid, timer.id, _ms(timer)))
        customer.timers_done.extend(TimerRef(customer.partition, cid, t, 0) for t in outcome.timers_cancelled)
        report.journeys.update(outcome.journey_events)
        report.failures.extend(outcome.failures)
        report.suppressed.update((s.reason.split(",")[0], s.channel, _fate(s)) for s in outcome.suppressed)
        report.conversions.update((c.journey_id, c.version, c.variant or "") for c in outcome.conversions)

    async def _publish(self, customers: dict[str, _Customer], dlq: list[OutRecord], report: BatchReport) -> None:
        pending = [r for c in customers.values() for r in c.loaded.outbox.values()]
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


def _ms(timer: Timer) -> int:
    return int(timer.due_at.timestamp() * 1000)


def reject(record: InRecord, exc: InputError, source: str, topics: Topics, report: BatchReport) -> OutRecord:
    """The DLQ record for an input that did not decode, counted by reason; bounded in size."""
    report.rejected[exc.code] += 1
    where = f"{source}[{record.partition}]@{record.offset}"
    key = (record.key or b"")[:DLQ_KEY_BYTES].decode(errors="replace")
    reason = exc.reason if len(exc.reason) <= DLQ_REASON_CHARS else f"{exc.reason[:DLQ_REASON_CHARS]}…"
    payload = record.value
    if payload is not None and len(payload) > DLQ_PAYLOAD_BYTES:
        payload = _head(payload, DLQ_PAYLOAD_BYTES)
        reason = f"{reason} (payload cut to its first {len(payload)} of {len(record.value or b'')} bytes)"
    return OutRecord(topics.dlq, key, codec.dead_letter(payload, reason, where))


def _head(raw: bytes, size: int) -> bytes:
    """The first ``size`` bytes, shortened so as not to cut a UTF-8 character of a text in two."""
    for cut in range(size, max(size - 4, 0), -1):
        try:
            raw[:cut].decode("utf-8")
        except UnicodeDecodeError:
            continue
        return raw[:cut]
    return raw[:size]  # not text: the DLQ record carries it as hex


def _deeper_than(value: object, limit: int) -> bool:
    """Whether lists and objects nest more than ``limit`` levels (iterative: no recursion limit)."""
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def _fate(suppressed: Suppressed) -> str:
    if suppressed.deferred_until is not None:
        return "deferred"
    return "fell_back" if suppressed.reason.endswith("fell back") else "dropped"
