"""What every detector works with: the signal it looks at, hits, cool-downs and rhythms.

Detectors are functions ``(state, signal) → (state, hits)``. They read event times
only: ``signal.at`` is when the thing happened (the event's time, or the moment a
threshold was crossed), ``signal.as_of`` the customer's event-time clock (the latest event
time seen). So a store order uploaded hours late gives the same answer as one on time.
"""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from orchestrator.core.effects import ScenarioHit
from orchestrator.core.events import Event
from orchestrator.core.ports import World
from orchestrator.core.runtime import Ctx, Effects
from orchestrator.core.scenario_spec import ScenarioSettings
from orchestrator.core.scenarios.intents import IntentMatch
from orchestrator.core.state import CustomerState, OrderRecord, Profile

DAY = timedelta(days=1)
Found = tuple[CustomerState, list[ScenarioHit]]


@dataclass(frozen=True)
class Signal:
    ctx: Ctx
    fx: Effects
    before: Profile  # the profile before this input was folded in
    event: Event | None  # None for a timer
    at: datetime  # when it happened: the event's time, or the crossing a timer stands for
    as_of: datetime  # the customer's event-time clock
    intents: tuple[IntentMatch, ...] = ()

    @property
    def world(self) -> World:
        return self.ctx.world

    @property
    def settings(self) -> ScenarioSettings:
        return self.ctx.world.scenarios

    def intent(self, name: str | None) -> IntentMatch | None:
        return next((m for m in self.intents if m.intent == name), None) if name else None


def hit(scenario: str, state: CustomerState, occurrence: str, at: datetime, evidence: dict[str, Any]) -> ScenarioHit:
    customer = state.customer_id
    return ScenarioHit(scenario=scenario, customer_id=customer, occurrence=occurrence, at=at, evidence=evidence)


def cooled(profile: Profile, scenario: str, at: datetime, cooldown: timedelta) -> bool:
    """True when the scenario's last counted hit is at least ``cooldown`` away from ``at`` (either
    side); ``process`` does not count a hit that journeys wait for but none took."""
    last = profile.last_hits.get(scenario)
    return last is None or abs(at - last) >= cooldown


def local_day(profile: Profile, at: datetime) -> date:
    return at.astimezone(ZoneInfo(profile.tz)).date()


def chat_evidence(match: IntentMatch, event: Event) -> dict[str, Any]:
    return {"source": "chat", "phrase": match.phrase, "text": match.text, "event_id": event.id}


def days(delta: timedelta) -> float:
    return delta / DAY


def paid_until(profile: Profile, as_of: datetime) -> list[OrderRecord]:
    """The paid orders dated up to ``as_of``, in event-time order: what the standing detectors
    (lifecycle, value tier) read, taken once per input and handed to both."""
    return [o for o in profile.order_log if not o.refunded and o.time <= as_of]


def purchase_times(times: Iterable[datetime]) -> list[datetime]:
    """Distinct buying moments: purchases within a day of the previous one are the same visit."""
    kept: list[datetime] = []
    for moment in sorted(times):
        if not kept or moment - kept[-1] >= DAY:
            kept.append(moment)
    return kept


def intervals(times: Iterable[datetime]) -> list[float]:
    """Days between consecutive buying moments."""
    return gaps(purchase_times(times))


def gaps(moments: list[datetime]) -> list[float]:
    """Days between consecutive moments (already distinct: see ``purchase_times``)."""
    return [round((b - a) / DAY, 4) for a, b in itertools.pairwise(moments)]


@dataclass(frozen=True)
class Rhythm:
    days: float
    basis: str  # own, population, seed, default


def rhythm(gaps: list[float], key: str, signal_world: World, needs: tuple[int, int]) -> Rhythm | None:
    """The customer's median gap (with ``needs[0]`` gaps or more), else the population's
    running median (once ``needs[1]`` gaps were seen), else the configured seed."""
    own, population_min = needs
    if len(gaps) >= own:
        return Rhythm(round(statistics.median(gaps), 2), "own")
    median = signal_world.population.median(f"interval:{key}", population_min)
    if median is not None:
        return Rhythm(median, "population")
    seed = signal_world.scenarios.population.interval_days.get(key)
    return Rhythm(seed, "seed") if seed is not None else None
