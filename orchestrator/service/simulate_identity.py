"""OneID in ``simulate``: the workers' identity logic, on an in-memory graph, in one process.

Each event is routed as the identify stage routes it (``identify.routable`` and
``identify.owner_of`` over the graph as it stands), processed, then handed to the same
``OneId.before_commit`` the handler calls: claims, refused links and merge requests. The
merge steps a worker would send through the by-customer topic (request, retire, absorb)
are applied at once, in the order a single partition would process them, so a dry run
shows the merges and refused links (as ``<prefix>.identity`` records) a live run makes.
"""

from __future__ import annotations

from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from orchestrator.core import CustomerState, Event, Input, World
from orchestrator.core.identity import Identifier, usable_identifiers
from orchestrator.service.handler import InRecord
from orchestrator.service.identify import owner_of, routable
from orchestrator.service.memory_identity import MemoryIdentityGraph
from orchestrator.service.merging import MergeInput, decode_merge
from orchestrator.service.oneid import OneId
from orchestrator.service.ports import Loaded, OutRecord, TimerRef
from orchestrator.service.report import BatchReport
from orchestrator.service.topics import Topics

T = TypeVar("T")
MAX_HOPS = 100  # merge steps one event may cause (each retires a customer: far fewer in practice)


@dataclass
class _Slice:
    loaded: Loaded
    partition: int
    inputs: list[tuple[InRecord, Input | MergeInput]]
    state: CustomerState | None
    outbox: dict[str, OutRecord] = field(default_factory=dict)
    timers_due: list[TimerRef] = field(default_factory=list)
    timers_done: list[TimerRef] = field(default_factory=list)
    changed: bool = False


@dataclass
class After:
    """What OneID added after one input: states to keep, records to write, timers to schedule."""

    states: dict[str, CustomerState] = field(default_factory=dict)
    records: list[bytes] = field(default_factory=list)  # identity records and actions of merges
    timers: list[tuple[str, str]] = field(default_factory=list)  # (customer, timer id) set again by a merge


class SimIdentity:
    def __init__(self, world: World, states: dict[str, CustomerState]) -> None:
        self.states = states  # the simulation's customers, read (never written) here
        self.graph = MemoryIdentityGraph()
        self.topics = Topics()
        self.oneid = OneId(world, self.graph, self.topics)
        self.report = BatchReport()

    def route(self, event: Event) -> str:
        """The customer an event reaches: its owner in the graph, through any redirects."""
        return self.owner(routable(event.identity, self.oneid.world.identity))

    def owner(self, found: Sequence[Identifier]) -> str:
        """``route`` for an event whose routing identifiers (``identify.routable``) were read already."""
        return self._follow(owner_of(found, self.graph.owners), {})

    def after(self, cid: str, before: CustomerState | None, after: CustomerState, event: Event, now: datetime) -> After:
        """Links of ``event`` for ``cid`` (state ``before`` → ``after``) and every merge step they start."""
        if self.settled(after, event):
            return After(states={cid: after})
        return self.linked(cid, before, after, event, now)

    def settled(self, state: CustomerState, event: Event) -> bool:
        """Whether OneID has nothing to do for ``event``: it names only identifiers ``state`` owns
        already, none malformed, and links nothing else (``identity.linked`` may). Then
        ``OneId.before_commit`` claims nothing, refuses nothing and keeps the state as it is, which
        is what most events of a long history do: they are answered without it."""
        if event.type == "identity.linked":
            return False
        found, errors = usable_identifiers(event.identity, self.oneid.world.identity)
        owned = state.identifiers
        return not errors and all(i.key in owned for i in found)

    def linked(
        self, cid: str, before: CustomerState | None, after: CustomerState, event: Event, now: datetime
    ) -> After:
        """``after`` through ``OneId.before_commit``, and every merge step it starts."""
        done = After()
        work: list[tuple[str, CustomerState | None, CustomerState, Input | MergeInput, bytes]] = [
            (cid, before, after, event, b"")
        ]
        for _ in range(MAX_HOPS):
            if not work:
                return done
            who, old, new, inp, raw = work.pop(0)
            piece = _Slice(Loaded(old), 0, [(InRecord(0, 0, who.encode(), raw, 0.0), inp)], new)
            _sync(self.oneid.before_commit({who: piece}, now, self.report))
            assert piece.state is not None  # noqa: S101 - before_commit keeps or replaces it
            done.states[who] = piece.state
            done.timers += [(who, t.timer_id) for t in piece.timers_due]
            for record in piece.outbox.values():
                step = decode_merge(record.value) if record.topic == self.topics.by_customer else None
                if step is None:
                    done.records.append(record.value)
                    continue
                target = self._follow(record.key, done.states)
                current = done.states.get(target) or self._state(target)
                start = current or CustomerState.new(target)
                work.append((target, current, start, step, record.value))
        raise RuntimeError(f"merges of {cid} did not settle in {MAX_HOPS} steps")

    def _follow(self, cid: str, states: dict[str, CustomerState]) -> str:
        for _ in range(MAX_HOPS):
            state = states.get(cid) or self._state(cid)
            if state is None or state.redirect_to is None:
                return cid
            cid = state.redirect_to
        return cid

    def _state(self, cid: str) -> CustomerState | None:
        return self.states.get(cid)


def _sync(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine that never waits (the memory graph), without an event loop."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]  # StopIteration.value is untyped
    coroutine.close()
    raise RuntimeError("the in-memory identity graph waited")
