"""Dry-run: recorded events through the pure core with a virtual clock, no servers.

The clock moves through the events' times: before each event, timers that came due are
fired in due order at their due time; after the last event, timers due by ``until``
fire. Output records are the bytes the topics would carry (actions, scenario hits), plus
suppressions and step failures, in the order they happened. Same input → same bytes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

import orjson

from orchestrator.core import Action, CustomerState, Event, Input, Outcome, TimerFired, World, process
from orchestrator.errors import InputError
from orchestrator.service import codec

Progress = Callable[[int, int], None]


@dataclass
class Simulation:
    records: list[bytes] = field(default_factory=list)  # JSON lines, in the order they happened
    outcomes: list[Outcome] = field(default_factory=list)
    rejected: list[tuple[int, str]] = field(default_factory=list)  # (line number, reason)
    states: dict[str, CustomerState] = field(default_factory=dict)

    @property
    def actions(self) -> list[Action]:
        return [a for o in self.outcomes for a in o.actions]

    def dump_states(self) -> list[bytes]:
        return [self.states[cid].model_dump_json().encode() for cid in sorted(self.states)]


def simulate(
    world: World, lines: Iterable[bytes], until: datetime | None = None, progress: Progress | None = None
) -> Simulation:
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
    events.sort(key=lambda e: (e[0], e[1]))
    for done, (moment, _, cid, event) in enumerate(events, start=1):
        _fire_due(sim, world, moment)
        _apply(sim, world, cid, event, moment)
        if progress:
            progress(done, len(events))
    last = events[-1][0] if events else None
    end = until or last
    if end is not None:
        _fire_due(sim, world, end)
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
    sim.outcomes.append(outcome)
    sim.records.extend(codec.encode_hit(h) for h in outcome.hits)
    sim.records.extend(codec.encode_action(a) for a in outcome.actions)
    sim.records.extend(orjson.dumps({"suppressed": s.model_dump(mode="json")}) for s in outcome.suppressed)
    sim.records.extend(orjson.dumps({"step_failure": f.model_dump(mode="json")}) for f in outcome.failures)
