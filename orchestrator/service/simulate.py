"""Dry-run: recorded events through the pure core with a virtual clock, no servers.

The clock moves through the events' times and never backwards: before each event, timers
that came due fire in due order at their due time (a timer set in the past fires at the
current time, as a running worker would fire it); after the last event, timers due by
``until`` fire. Events after ``until`` are not replayed. Schedule journeys fire as a worker fires them:
at each occurrence on a zone's wall clock, the audience of that zone
(``orchestrator.audiences``, kept after every input) gets the occurrence, in id order,
among the timers due at the same moment. Output records are the bytes the
topics would carry (actions, scenario hits), plus suppressions, step failures and goal
conversions (holdouts included), in the
order they happened. Same input → same bytes. ``log`` holds the journey-log records
(core.journey_log), one JSON line each, in the same order.
"""

from __future__ import annotations

import gc
import heapq
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import orjson

from orchestrator.audiences import schedule
from orchestrator.audiences.memory import MemoryAudiences
from orchestrator.core import Action, CustomerState, Event, Input, Outcome, TimerFired, World, process
from orchestrator.core.identity import Identifier
from orchestrator.core.migrations import dump_state
from orchestrator.core.triggers import SCHEDULE_PREFIX
from orchestrator.errors import InputError
from orchestrator.service import codec
from orchestrator.service.identify import routable
from orchestrator.service.ports import IdentityGraph
from orchestrator.service.simulate_identity import SimIdentity

WALK = "\x00walk"  # a heap entry's customer for an occurrence to walk: before any customer's timer at that time

Progress = Callable[[int, int], None]
_NO_STATE = CustomerState.new("-")  # stands for the state in the outcomes a dry run keeps
_LEFT_OUT = {"log": (), "observations": (), "timers_set": (), "timers_cancelled": (), "journey_events": ()}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_NEVER = 2**31 - 1  # a collection threshold never reached
_FIELD_NAMES: dict[frozenset[str], set[str]] = {}  # the sets of assigned field names kept outcomes share (_kept)


@dataclass
class Simulation:
    records: list[bytes] = field(default_factory=list)  # JSON lines, in the order they happened
    log: list[bytes] = field(default_factory=list)  # journey-log records, one JSON line each
    # What the inputs that acted did (actions, hits, suppressions, failures, conversions), without
    # the state they left (``states`` holds each customer's last; keeping every version of every
    # state grew with the square of a customer's history), their log records (``log``), timers,
    # journey events or population observations.
    outcomes: list[Outcome] = field(default_factory=list)
    inputs: int = 0  # events and timers processed
    rejected: list[tuple[int, str]] = field(default_factory=list)  # (line number, reason)
    states: dict[str, CustomerState] = field(default_factory=dict)
    skipped: int = 0  # events after ``until``
    identity_graph: IdentityGraph | None = None  # OneID: the graph the dry run built

    @property
    def actions(self) -> list[Action]:
        return [a for o in self.outcomes for a in o.actions]

    def dump_states(self) -> list[bytes]:
        return [dump_state(self.states[cid]).encode() for cid in sorted(self.states)]


def simulate(
    world: World, lines: Iterable[bytes], until: datetime | None = None, progress: Progress | None = None
) -> Simulation:
    """Events in time order; timers fire between them; nothing after ``until`` (default: the last event)."""
    with _no_full_collections():
        return _replay(world, lines, until, progress)


def _replay(world: World, lines: Iterable[bytes], until: datetime | None, progress: Progress | None) -> Simulation:
    sim = Simulation()
    events = sorted(_decode(sim, lines, world), key=lambda e: (e[0], e[1]))
    if until is not None:
        sim.skipped = sum(1 for e in events if e[0] > until)
        events = [e for e in events if e[0] <= until]
    clock = _Clock(sim, world)
    sim.identity_graph = clock.identity.graph
    total, end = len(events), until or (events[-1][0] if events else None)
    events.reverse()  # popped from the end as they are replayed: a replayed event is not held to the end
    while events:
        moment, _, _, event, found = events.pop()
        clock.fire_due(moment)
        clock.apply(clock.identity.owner(found), event, moment)  # OneID: as the identify stage routes it
        if progress:
            progress(total - len(events), total)
    if end is not None:
        clock.fire_due(end)
    return sim


@contextmanager
def _no_full_collections() -> Iterator[None]:
    """Only the young generations are collected while a dry run replays.

    A dry run keeps every customer's state: millions of long-lived objects that the
    collector's automatic full collections scanned again and again (a fifth of a year of
    CDNOW history) to find no garbage: states are trees, freed by reference counting when
    replaced. Cycles are still found young; one that outlived two collections waits for
    the first full collection after the run.
    """
    young, middle, old = gc.get_threshold()
    gc.set_threshold(young, middle, _NEVER)
    try:
        yield
    finally:
        gc.set_threshold(young, middle, old)


def _decode(
    sim: Simulation, lines: Iterable[bytes], world: World
) -> list[tuple[datetime, int, str, Event, list[Identifier]]]:
    """(time, line number, key, event, its routing identifiers) for each event that can be routed."""
    events = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            cid, event = codec.decode_event(line)
            found = routable(event.identity, world.identity)  # the identify stage's DLQ
        except InputError as exc:
            sim.rejected.append((number, exc.reason))
            continue
        events.append((event.time, number, cid, event, found))
    return events


class _Clock:
    """The virtual clock: it only moves forward; a timer set in the past fires at the current time."""

    def __init__(self, sim: Simulation, world: World) -> None:
        self.sim = sim
        self.world = world
        self.now: datetime | None = None
        # Heap of (due in µs since the epoch, customer, timer id, due); stale entries are skipped.
        # An integer orders as the instant does, at a fraction of an aware datetime's comparison.
        self.due: list[tuple[int, str, str, datetime]] = []
        self.identity = SimIdentity(world, sim.states)
        self.scheduled = {j.id: j for j in schedule.scheduled_journeys(world)}
        self.audiences = MemoryAudiences(self.scheduled)

    def queue(self, due_at: datetime, cid: str, timer_id: str) -> None:
        heapq.heappush(self.due, (_instant(due_at), cid, timer_id, due_at))

    def fire_due(self, until: datetime) -> None:
        last = _instant(until)
        while self.due and self.due[0][0] <= last:
            _, cid, timer_id, due_at = heapq.heappop(self.due)
            if cid == WALK:
                self._walk(due_at, timer_id)
                continue
            if not timer_id.startswith(SCHEDULE_PREFIX):
                timer = self.sim.states[cid].timers.get(timer_id)
                if timer is None or timer.due_at != due_at:
                    continue  # moved or cancelled since it was scheduled
            moment = max(due_at, self.now) if self.now else due_at
            self.apply(cid, TimerFired(customer_id=cid, timer_id=timer_id, due_at=due_at), moment)

    def _walk(self, occurrence: datetime, walk: str) -> None:
        """An occurrence of (journey, zone) came: its audience gets it; the next one is queued."""
        journey_id, tz = walk.split("\x1f")
        now = max(occurrence, self.now) if self.now else occurrence
        journey = self.world.current(journey_id, now)
        if journey is None:
            return
        self.audiences.flush(journey_id, self.world, now)
        for cid in self.audiences.audience(journey_id, tz):
            self.queue(occurrence, cid, f"{SCHEDULE_PREFIX}{journey_id}")
        self.queue(schedule.following_occurrence(journey, tz, occurrence, now, self.world), WALK, walk)

    def _track(self, state: CustomerState) -> None:
        """A commit: the audience index judges the customer before the next walk; a new zone
        gets the first occurrence of every schedule journey on its clock."""
        assert self.now is not None  # noqa: S101 - set by apply
        if not self.audiences.touch(state):
            return
        tz = state.profile.tz
        for journey in self.scheduled.values():
            first = schedule.first_occurrence(journey, tz, self.now, self.world)
            self.queue(first, WALK, f"{journey.id}\x1f{tz}")

    def apply(self, cid: str, inp: Input, now: datetime) -> None:
        self.now = max(now, self.now) if self.now else now
        sim = self.sim
        before = sim.states.get(cid)
        outcome = process(before or CustomerState.new(cid), inp, self.now, self.world)
        if outcome.observations:  # the population's running figures, as a worker keeps them
            self.world = self.world.with_population(self.world.population.observe(outcome.observations))
        sim.states[cid] = outcome.state
        if not outcome.duplicate:
            self._track(outcome.state)
        sim.inputs += 1
        if outcome.actions or outcome.hits or outcome.suppressed or outcome.failures or outcome.conversions:
            sim.outcomes.append(_kept(outcome))
        for timer in outcome.timers_set:
            self.queue(timer.due_at, cid, timer.id)
        records = [
            *(codec.encode_hit(h) for h in outcome.hits),
            *(codec.encode_action(a) for a in outcome.actions),
            *(orjson.dumps({"suppressed": s.model_dump(mode="json")}) for s in outcome.suppressed),
            *(orjson.dumps({"step_failure": f.model_dump(mode="json")}) for f in outcome.failures),
            *(orjson.dumps({"conversion": c.model_dump(mode="json")}) for c in outcome.conversions),
        ]
        sim.records.extend(_compact(r) for r in records)
        sim.log.extend(_compact(orjson.dumps(r.compact())) for r in outcome.log)
        if isinstance(inp, Event):  # OneID: links, refused links and merges, as a worker makes them
            self._identity(cid, before, outcome.state, inp)

    def _identity(self, cid: str, before: CustomerState | None, after: CustomerState, event: Event) -> None:
        assert self.now is not None  # noqa: S101 - set by apply
        done = self.identity.after(cid, before, after, event, self.now)
        self.sim.states.update(done.states)
        for state in done.states.values():
            self._track(state)
        self.sim.records.extend(_compact(r) for r in done.records)
        for who, timer_id in done.timers:
            timer = self.sim.states[who].timers.get(timer_id)
            if timer is not None:
                self.queue(timer.due_at, who, timer_id)


def _kept(outcome: Outcome) -> Outcome:
    """The outcome as a dry run keeps it (see ``Simulation.outcomes``).

    Every hit carries pydantic's set of the field names it was given (728 bytes for five names
    or more) and a year of history keeps a hundred thousand of them: the kept hits share one
    set per distinct content. The models are frozen, so nothing changes a set (a copy gets its own).
    """
    kept = outcome.model_copy(update={"state": _NO_STATE, **_LEFT_OUT})
    for model in kept.hits:
        names = model.__pydantic_fields_set__
        object.__setattr__(model, "__pydantic_fields_set__", _FIELD_NAMES.setdefault(frozenset(names), names))
    return kept


def _instant(moment: datetime) -> int:
    return (moment - _EPOCH) // _MICROSECOND


def _compact(record: bytes) -> bytes:
    """A copy of exactly its size: orjson's bytes keep the 4 KB buffer they were written into, and a
    dry run keeps every record (a year of history: hundreds of thousands)."""
    return bytes(memoryview(record))
