"""Dry-run: recorded events through the pure core with a virtual clock, no servers.

The clock moves through the events' times; before each event, timers that came due are
fired in due order at their due time; after the last event, timers due by ``until``
fire. Same input → same output.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from orchestrator.core import Action, CustomerState, Event, Input, ScenarioHit, StepFailure, TimerFired, World, process
from orchestrator.errors import InputError
from orchestrator.service import codec


@dataclass
class Simulation:
    actions: list[Action] = field(default_factory=list)
    hits: list[ScenarioHit] = field(default_factory=list)
    failures: list[StepFailure] = field(default_factory=list)
    rejected: list[tuple[int, str]] = field(default_factory=list)  # (line number, reason)
    states: dict[str, CustomerState] = field(default_factory=dict)


def simulate(world: World, lines: Iterable[bytes], until: datetime) -> Simulation:
    sim = Simulation()
    events: list[tuple[datetime, int, str, Event]] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            cid, event = codec.decode_event(line)
        except InputError as exc:
            sim.rejected.append((number, exc.reason))
            continue
        events.append((event.time, number, cid, event))
    for moment, _, cid, event in sorted(events, key=lambda e: (e[0], e[1])):
        _fire_due(sim, world, moment)
        _apply(sim, world, cid, event, moment)
    _fire_due(sim, world, until)
    return sim


def _fire_due(sim: Simulation, world: World, until: datetime) -> None:
    while True:
        due = [(t.due_at, cid, t.id) for cid, s in sim.states.items() for t in s.timers.values() if t.due_at <= until]
        if not due:
            return
        due_at, cid, timer_id = min(due)
        _apply(sim, world, cid, TimerFired(customer_id=cid, timer_id=timer_id, due_at=due_at), due_at)


def _apply(sim: Simulation, world: World, cid: str, inp: Input, now: datetime) -> None:
    outcome = process(sim.states.get(cid) or CustomerState.new(cid), inp, now, world)
    sim.states[cid] = outcome.state
    sim.actions.extend(outcome.actions)
    sim.hits.extend(outcome.hits)
    sim.failures.extend(outcome.failures)
