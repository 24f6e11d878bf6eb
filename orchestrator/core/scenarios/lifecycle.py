"""Lifecycle stage and churn risk, relative to the customer's own rhythm.

Stages: ``registered`` (no paid order), ``new`` (fewer than ``loyal_min_orders``),
``loyal``, ``dormant`` and ``churned``. The last two come from time passing: no order for
``max(min_days, factor × rhythm)`` days, where the rhythm is the customer's median days
between orders (with ``min_intervals`` intervals or more), else the population's running
median, else the seed for ``*``, else ``default_interval_days``.

Churn risk is 1 - P(alive) of a beta-geometric / exponential model (BG/NBD with the
customer's own rate): after each purchase a customer drops out with probability
q = a / (a + b + x) (x repeat purchases); one still alive buys at rate 1 / rhythm, so
P(alive | nothing for t days) = 1 / (1 + q / (1 - q) · e^(t / rhythm)).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from orchestrator.core.ports import World
from orchestrator.core.scenario_spec import LifecycleSettings, Threshold
from orchestrator.core.scenarios.base import DAY, Rhythm, days, intervals, rhythm
from orchestrator.core.state import Profile

REGISTERED, NEW, LOYAL, DORMANT, CHURNED = "registered", "new", "loyal", "dormant", "churned"


@dataclass(frozen=True)
class Standing:
    stage: str
    churn_risk: float
    orders: int
    last_order: datetime | None
    rhythm: Rhythm
    dormant_after: float  # days without an order
    churned_after: float

    def rule(self, settings: LifecycleSettings) -> str:
        if self.stage in (DORMANT, CHURNED):
            threshold = settings.dormant if self.stage == DORMANT else settings.churned
            factor, least = f"{threshold.factor:g}", f"{threshold.min_days:g}"
            return f"no order for {factor} × {self.rhythm.basis} rhythm (at least {least} days)"
        if self.stage == LOYAL:
            return f"{settings.loyal_min_orders}+ paid orders, ordering within the rhythm"
        return "first paid order" if self.stage == NEW else "no paid order"

    def crossings(self) -> list[datetime]:
        """When time alone would change the stage: dormancy and churn thresholds."""
        if self.last_order is None:
            return []
        return [self.last_order + timedelta(days=d) for d in (self.dormant_after, self.churned_after)]


def legacy_stage(profile: Profile) -> str:
    """Without lifecycle settings: new after the first order, loyal after the second."""
    return profile.lifecycle if profile.orders == 0 else (NEW if profile.orders == 1 else LOYAL)


def evaluate(profile: Profile, as_of: datetime, settings: LifecycleSettings, world: World) -> Standing:
    paid = [o.time for o in profile.paid_orders() if o.time <= as_of]
    gaps = intervals(paid)
    found = rhythm(gaps, "*", world, (settings.min_intervals, settings.population_min))
    pace = found or Rhythm(settings.default_interval_days, "default")
    dormant_after, churned_after = _after(settings.dormant, pace), _after(settings.churned, pace)
    last = max(paid) if paid else None
    since = days(as_of - (last or profile.first_seen_at or as_of))
    if last is None:
        stage = REGISTERED
    elif since >= churned_after:
        stage = CHURNED
    elif since >= dormant_after:
        stage = DORMANT
    else:
        stage = LOYAL if len(paid) >= settings.loyal_min_orders else NEW
    risk = churn_risk(len(paid), since, pace.days, settings)
    return Standing(stage, risk, len(paid), last, pace, dormant_after, churned_after)


def churn_risk(orders: int, since_days: float, rhythm_days: float, settings: LifecycleSettings) -> float:
    a, b = settings.churn_risk.a, settings.churn_risk.b
    dropout = a / (a + b + max(orders - 1, 0))
    exponent = since_days / rhythm_days
    if exponent > 50:  # e^50 dwarfs any odds: certainly gone
        return 1.0
    odds = dropout / (1 - dropout) * math.exp(exponent)
    return round(odds / (1 + odds), 4)


def _after(threshold: Threshold, pace: Rhythm) -> float:
    return round(max(threshold.min_days, threshold.factor * pace.days), 4)


def days_since(standing: Standing, as_of: datetime) -> int | None:
    return None if standing.last_order is None else int((as_of - standing.last_order) / DAY)
