"""Replay a purchase history through ``core.process``, as a worker would, and keep what the report needs.

Events are processed in event-time order with ``now`` = their time; each detector timer
fires at its due time (a heap, like the worker's timer pump); the population's running
figures are folded from every outcome's observations and handed to the next batch of
inputs (every ``batch`` inputs, as a shell would between batches). At the calibration
moment the customers' profiles are kept, to be judged as of that moment.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from orchestrator.core import CustomerState, Event, ProductCatalog, Profile, ScenarioHit, TimerFired, World, process
from orchestrator.core.figures import Figures
from orchestrator.core.population import Population
from orchestrator.core.scenario_spec import (
    CycleSettings,
    LifecycleSettings,
    ScenarioSettings,
    ValueTierSettings,
)

Input = Event | TimerFired


class _Nothing:
    """No journeys run in the replay: nothing is ever rendered or evaluated."""

    def render(self, template: str, context: Mapping[str, Any]) -> str:
        raise AssertionError(template)

    def evaluate(self, expression: str, context: Mapping[str, Any]) -> bool:
        raise AssertionError(expression)


def settings(lead_days: int) -> ScenarioSettings:
    """Detector settings for a shop whose catalog has no figure: every category by rhythm."""
    return ScenarioSettings(
        consumption_cycle_ending=CycleSettings(lead_days=lead_days, rhythm_categories=("cd",)),
        lifecycle=LifecycleSettings(),
        value_tier=ValueTierSettings(),
    )


def world(scenarios: ScenarioSettings, figures: Figures | None = None) -> World:
    nothing = _Nothing()
    products = ProductCatalog()
    return World(
        journeys=(), products=products, renderer=nothing, conditions=nothing, scenarios=scenarios, figures=figures
    )


@dataclass
class Replay:
    world: World
    calibration: datetime
    batch: int = 500
    states: dict[str, CustomerState] = field(default_factory=dict)
    hits: list[ScenarioHit] = field(default_factory=list)
    at_calibration: dict[str, Profile] = field(default_factory=dict)
    population_at_calibration: Population = field(default_factory=Population)
    inputs: int = 0
    _due: list[tuple[datetime, str, str]] = field(default_factory=list)
    _population: Population = field(default_factory=Population)

    def run(self, events: list[Event], end: datetime) -> Replay:
        for event in sorted(events, key=lambda e: (e.time, e.id)):
            if not self.at_calibration and event.time >= self.calibration:
                self._fire_until(self.calibration)
                self._snapshot()
            self._fire_until(event.time)
            self._apply(str(event.identity["member_id"]), event, event.time)
        self._fire_until(end)
        return self

    def _fire_until(self, moment: datetime) -> None:
        while self._due and self._due[0][0] <= moment:
            due_at, cid, timer_id = heapq.heappop(self._due)
            timer = self.states[cid].timers.get(timer_id)
            if timer is not None and timer.due_at == due_at:
                self._apply(cid, TimerFired(customer_id=cid, timer_id=timer_id, due_at=due_at), due_at)

    def _apply(self, cid: str, inp: Input, now: datetime) -> None:
        outcome = process(self.states.get(cid) or CustomerState.new(cid), inp, now, self.world)
        self.states[cid] = outcome.state
        self.hits.extend(outcome.hits)
        for timer in outcome.timers_set:
            heapq.heappush(self._due, (timer.due_at, cid, timer.id))
        self._population = self._population.observe(outcome.observations)
        self.inputs += 1
        if self.inputs % self.batch == 0:
            self.world = replace(self.world, population=self._population)

    def _snapshot(self) -> None:
        self.world = replace(self.world, population=self._population)
        self.population_at_calibration = self._population
        self.at_calibration = {cid: state.profile for cid, state in self.states.items()}
