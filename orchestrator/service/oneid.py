"""OneID at the process stage: links, refused links and merges, between ``process`` and the commit.

The handler (service/handler.py) calls two hooks. ``forward_redirected`` right after the
load, ``OneId.before_commit`` right before the commit. For one batch:

1. a customer whose stored state is a redirect (it was merged into S) processes nothing:
   its events and merge steps are forwarded, byte for byte, to S's partition (published
   with the batch, before the ack), except a merge request from S itself (the merge is
   done); its timers are dropped (S re-indexed them when it absorbed the state), and its
   pending outbox is produced as for any customer;
2. merge steps (``merging.py``: request, retire, absorb) run on the customer they reached;
   an absorb collects graph moves of the retired customer's identifiers;
3. every event's identifiers the customer does not hold yet (``identity.linked`` adds the
   identifiers in its ``data.identifiers``) are checked against the limits and blocked
   values (``core.identity.check_links``): a refused one is counted and published to
   ``<prefix>.identity`` with its reason, never applied; allowed ones become claims;
4. the graph is written, and **awaited before the commit** (indexes before state): the
   absorbs' moves and drops, then **one** pipelined claim of the whole batch;
5. a won claim is recorded in the state (``identifiers``); a claim owned by another
   customer X is checked quickly (the customer's identifiers plus X's own id key: two
   member ids never fuse over a shared phone) and refused, or becomes a merge request to
   X in the outbox;
6. the handler commits state, timers and outbox (actions, merge steps, identity records)
   in its one atomic write per customer, and produces the outbox as for any input.

A crash anywhere before 6 leaves claims or moves without the state that records them:
harmless, the redelivered batch claims again (a claim by the same customer is a no-op)
and a move compares the owner first. After 6 the handler's commit order applies.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from orchestrator.core import CustomerState, Event, TimerFired, World
from orchestrator.core.identity import (
    Identifier,
    IdentifierError,
    IdentityRules,
    Refusal,
    check_links,
    identifiers,
)
from orchestrator.service import codec
from orchestrator.service.merging import (
    MergeInput,
    Step,
    key_of,
    note_bytes,
    parse_key,
    refusal_note,
    requests_for,
    run,
)
from orchestrator.service.ports import IdentityGraph, Loaded, OutRecord, TimerRef
from orchestrator.service.report import BatchReport
from orchestrator.service.topics import Topics

REMEMBERED_IDENTIFIERS = 50_000  # normalised identifiers a worker keeps (a few MB)

if TYPE_CHECKING:
    from orchestrator.core import Input
    from orchestrator.service.handler import InRecord


class Slice(Protocol):
    """The handler's slice of one customer in a batch (``handler._Customer``)."""

    loaded: Loaded
    partition: int
    inputs: list[tuple[InRecord, Input | MergeInput]]
    state: CustomerState | None
    outbox: dict[str, OutRecord]
    timers_due: list[TimerRef]
    timers_done: list[TimerRef]
    changed: bool


def forward_redirected(customers: Mapping[str, Slice], topics: Topics, report: BatchReport) -> list[OutRecord]:
    """Step 1: the inputs of merged customers go on to their survivors; returns the records to produce."""
    out: list[OutRecord] = []
    for cid, customer in customers.items():
        target = customer.loaded.state.redirect_to if customer.loaded.state else None
        if target is None:
            continue
        for record, inp in customer.inputs:
            if isinstance(inp, TimerFired):
                customer.timers_done.append(TimerRef(customer.partition, cid, inp.timer_id, 0))
            elif isinstance(inp, MergeInput) and inp.step == "request" and inp.partner == target:
                report.identity["merged_already"] += 1  # the survivor asks to merge with us: done
            else:
                out.append(OutRecord(topics.by_customer, target, record.value or b""))
                report.identity["forwarded"] += 1
        customer.inputs = []
    return out


@dataclass
class _Pending:
    """One customer's OneID work between the steps of ``before_commit``."""

    cid: str
    customer: Slice
    state: CustomerState
    now: datetime
    report: BatchReport
    claims: list[str] = field(default_factory=list)
    origin: str = ""  # the id of the last event that asked for a claim (merge request ids)


@dataclass
class OneId:
    world: World
    graph: IdentityGraph
    topics: Topics
    _memo: dict[tuple[str, str], tuple[Identifier, ...] | str] = field(default_factory=dict, repr=False)
    _rules: IdentityRules | None = field(default=None, repr=False)

    async def before_commit(self, customers: Mapping[str, Slice], now: datetime, report: BatchReport) -> None:
        """Steps 2-5 for the whole batch, with one claim round trip (and one for moves, if any)."""
        pending: dict[str, _Pending] = {}
        moves: list[tuple[str, str, str]] = []
        drops: list[tuple[str, str]] = []
        for cid, customer in customers.items():
            if customer.state is None or customer.state.redirect_to is not None:
                continue
            work = pending[cid] = _Pending(cid, customer, customer.state, now, report)
            for _, inp in customer.inputs:
                if isinstance(inp, Event):
                    self._links(work, inp)
            for record, inp in customer.inputs:
                if not isinstance(inp, MergeInput):
                    continue
                if work.state.redirect_to is not None:  # retired by an earlier step: on to the survivor
                    forward = OutRecord(self.topics.by_customer, work.state.redirect_to, record.value or b"")
                    customer.outbox[f"forward:{inp.id}"] = forward
                    continue
                step = run(work.state, inp, now, self.world, tuple(work.claims))
                self._took(work, step, inp.id)
                work.state = step.state
                work.claims = [] if step.retired else [*work.claims, *step.claims]
                moves += step.moves
                drops += step.drops
        if moves or drops:
            await self.graph.repoint(moves)
            await self.graph.drop(drops)
        claims = [(key, cid) for cid, work in pending.items() for key in dict.fromkeys(work.claims)]
        owners = await self.graph.claim(claims) if claims else {}
        for cid, work in pending.items():
            self._settle_claims(work, owners)
            _store(customers[cid], work.state)

    def _links(self, work: _Pending, event: Event) -> None:
        """Step 3: the event's new identifiers, checked; allowed ones wait for the batch's claim."""
        found, refusals = self._identifiers_of(event)
        new = [i for i in found if i.key not in work.state.identifiers]
        if not new and not refusals:  # the usual event: every identifier already the customer's
            return
        held = [parse_key(k) for k in (*work.state.identifiers, *work.claims)]
        refusals += check_links(held, new, self.world.identity)
        refused = {r.identifier for r in refusals}
        for refusal in refusals:
            self._refused(work, refusal, None, event.id)
        fresh = [i.key for i in found if i not in refused and i.key not in work.state.identifiers]
        if fresh:
            work.claims += fresh
            work.origin = event.id

    def _identifiers_of(self, event: Event) -> tuple[list[Identifier], list[Refusal]]:
        raw = dict(event.identity)
        extra = event.data.get("identifiers") if event.type == "identity.linked" else None
        refusals: list[Refusal] = []
        if isinstance(extra, dict):
            raw.update({str(k): v for k, v in extra.items() if isinstance(v, str)})
        found: list[Identifier] = []
        for kind, value in raw.items():
            known = self._normalised(kind, value)
            if isinstance(known, str):
                refusals.append(Refusal(Identifier(kind, value[:64]), known))
            else:
                found += known
        return found, refusals

    def _normalised(self, kind: str, value: str) -> tuple[Identifier, ...] | str:
        """``identifiers({kind: value})`` under the world's rules, or why it fails; remembered, since
        a customer's events carry the same identifiers batch after batch (forgotten when the rules change)."""
        rules = self.world.identity
        if self._rules is not rules:
            self._memo.clear()
            self._rules = rules
        known = self._memo.get((kind, value))
        if known is None:
            try:
                known = tuple(identifiers({kind: value}, rules))
            except IdentifierError as exc:
                known = str(exc)
            if len(self._memo) >= REMEMBERED_IDENTIFIERS:
                self._memo.clear()
            self._memo[(kind, value)] = known
        return known

    def _settle_claims(self, work: _Pending, owners: dict[str, str]) -> None:
        """Step 5: won claims recorded; lost ones refused by the quick check or sent as merge requests."""
        if not work.claims:  # the usual customer: nothing claimed, nothing won, lost or asked
            return
        cid, report = work.cid, work.report
        won = [k for k in dict.fromkeys(work.claims) if owners.get(k) == cid and k not in work.state.identifiers]
        lost = [(key, owners[key]) for key in dict.fromkeys(work.claims) if owners.get(key, cid) != cid]
        if won:
            work.state = work.state.model_copy(update={"identifiers": (*work.state.identifiers, *won)})
            report.identity["links"] += len(won)
        rules = self.world.identity
        asked: list[tuple[str, str]] = []
        for key, owner in lost:
            held = [parse_key(k) for k in work.state.identifiers]
            refusals = check_links(held, [parse_key(key), parse_key(key_of(owner, rules))], rules)
            for refusal in refusals[:1]:  # the contested key is refused: joining would break this limit
                why = Refusal(parse_key(key), f"{key} belongs to {owner}; joining them: {refusal.reason}")
                self._refused(work, why, owner, work.origin)
            if not refusals:
                asked.append((key, owner))
        for out_key, request in requests_for(work.state, asked, work.origin):
            work.customer.outbox[out_key] = OutRecord(self.topics.by_customer, request.to, request.encode())
            report.identity["merge_requests"] += 1

    def _took(self, work: _Pending, step: Step, step_id: str) -> None:
        """A merge step's sends, notes and effects into the customer's outbox and timers."""
        cid, customer, report = work.cid, work.customer, work.report
        for out_key, message in step.sends:
            customer.outbox[out_key] = OutRecord(self.topics.by_customer, message.to, message.encode())
        for n, note in enumerate(step.notes):
            customer.outbox[f"identity:{step_id}:{n}"] = OutRecord(self.topics.identity, cid, note_bytes(note))
            if note["what"] == "link_refused":
                report.identity_refused[(str(note["identifier"]).partition(":")[0], _reason(str(note["reason"])))] += 1
        report.identity["merges"] += int(step.merged)
        report.identity["retired"] += int(step.retired)
        report.journeys.update(step.fx.journey_events)
        for timer in step.fx.timers_set.values():
            ms = int(timer.due_at.timestamp() * 1000)
            customer.timers_due.append(TimerRef(customer.partition, cid, timer.id, ms))
        for action in step.fx.actions:
            customer.outbox[action.action_id] = OutRecord(
                self.topics.actions(action.channel), cid, codec.encode_action(action)
            )

    def _refused(self, work: _Pending, refusal: Refusal, partner: str | None, origin: str) -> None:
        note = refusal_note(work.cid, refusal, partner, work.now)
        work.customer.outbox[f"identity:refused:{work.cid}:{refusal.identifier.key}:{origin}"] = OutRecord(
            self.topics.identity, work.cid, note_bytes(note)
        )
        work.report.identity_refused[(refusal.identifier.kind, _reason(refusal.reason))] += 1


def _store(customer: Slice, state: CustomerState) -> None:
    """The OneID changes become part of the customer's commit (version raised once if needed)."""
    if state is customer.state or state == customer.state:
        return
    loaded = customer.loaded.state.version if customer.loaded.state else 0
    if state.version <= loaded:
        state = state.model_copy(update={"version": loaded + 1})
    customer.state = state
    customer.changed = True


def _reason(text: str) -> str:
    """A refusal's reason as a metric label: limit, blocked or invalid."""
    if "at most" in text:
        return "limit"
    return "blocked" if "blocked" in text else "invalid"
