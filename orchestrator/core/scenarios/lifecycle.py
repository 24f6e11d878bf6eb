"""Lifecycle stage and churn risk, relative to the customer's own rhythm.

Stages: ``registered`` (no paid order), ``new`` (fewer than ``loyal_min_orders``),
``loyal``, ``dormant`` and ``churned``. The last two come from time passing: no order for
``max(min_days, factor × rhythm)`` days, where the rhythm is the customer's median days
between orders (with ``min_intervals`` intervals or more), else the population's running
median, else the seed for ``*``, else ``default_interval_days``.

Churn risk is the chance of no purchase within ``churn_risk.horizon``, from the
customer's own history by MBG/NBD (Batislam et al. 2007): with x repeat purchases, the
last one t_x days after the first and T days since the first,

    P(alive)     = 1 / (1 + a / (b + x) · ((alpha + T) / (alpha + t_x)) ^ (r + x))
    P(buy in h)  = P(alive) · (1 - ((alpha + T) / (alpha + T + h)) ^ (r + x))
    churn risk   = 1 - P(buy in h)

so a customer who buys every week and has been silent for a month is at risk sooner
than one who buys twice a year.

With fitted figures (``World.figures``, see ``core.figures``) both come from the data
instead: churn risk is the fitted model's (``core.forecast.churn_risk``), and a customer
is dormant, then churned, once it reaches the fitted cuts; the crossings are the moments
time alone takes the risk there.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta

from orchestrator.core import forecast
from orchestrator.core.figures import Figures, StageCuts
from orchestrator.core.ports import World
from orchestrator.core.scenario_spec import ChurnRisk, LifecycleSettings, Threshold
from orchestrator.core.scenarios.base import DAY, Rhythm, days, gaps, paid_until, purchase_times, rhythm
from orchestrator.core.state import OrderRecord, Profile

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
    cuts: StageCuts | None = None  # fitted: stages by churn risk

    def rule(self, settings: LifecycleSettings) -> str:
        if self.cuts is not None and self.stage in (DORMANT, CHURNED):
            cut = self.cuts.dormant_at if self.stage == DORMANT else self.cuts.churned_at
            return f"fitted churn risk at least {cut:g}"
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
        return [self.last_order + timedelta(days=d) for d in (self.dormant_after, self.churned_after) if d < math.inf]


def legacy_stage(profile: Profile) -> str:
    """Without lifecycle settings: new after the first order, loyal after the second."""
    return profile.lifecycle if profile.orders == 0 else (NEW if profile.orders == 1 else LOYAL)


def evaluate(
    profile: Profile,
    as_of: datetime,
    settings: LifecycleSettings,
    world: World,
    orders: list[OrderRecord] | None = None,
) -> Standing:
    """The stage as of ``as_of``; ``orders``: ``base.paid_until(profile, as_of)`` when the caller has it."""
    orders = paid_until(profile, as_of) if orders is None else orders
    if world.figures is not None:
        return _fitted(profile, as_of, settings, world.figures, orders)
    paid = [o.time for o in orders]
    moments = purchase_times(paid)
    found = rhythm(gaps(moments), "*", world, (settings.min_intervals, settings.population_min))
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
    risk = churn_risk(moments, as_of, profile.first_seen_at, settings.churn_risk)
    return Standing(stage, risk, len(paid), last, pace, dormant_after, churned_after)


def churn_risk(moments: list[datetime], as_of: datetime, first_seen: datetime | None, model: ChurnRisk) -> float:
    """The chance of no purchase within ``model.horizon`` after ``as_of`` (see the module doc).

    ``moments`` are the distinct buying moments, oldest first (``base.purchase_times``).
    """
    start = moments[0] if moments else (first_seen or as_of)
    repeat = max(len(moments) - 1, 0)
    total = max(days(as_of - start), 0.0)
    last = days(moments[-1] - start) if moments else total
    shape = model.r + repeat
    alpha = model.alpha_days
    log_odds = math.log(model.a / (model.b + repeat)) + shape * math.log((alpha + total) / (alpha + last))
    alive = 0.0 if log_odds > 50 else 1 / (1 + math.exp(log_odds))
    quiet = math.pow((alpha + total) / (alpha + total + days(model.horizon)), shape)
    return round(1 - alive * (1 - quiet), 4)


def _fitted(
    profile: Profile, as_of: datetime, settings: LifecycleSettings, figures: Figures, orders: list[OrderRecord]
) -> Standing:
    moments = purchase_times(o.time for o in orders)
    found = forecast.history(moments, [o.amount for o in orders], as_of)
    spans = gaps(moments)
    pace = Rhythm(settings.default_interval_days, "default")
    if len(spans) >= settings.min_intervals:
        pace = Rhythm(round(statistics.median(spans), 2), "own")
    if found is None:
        risk = churn_risk([], as_of, profile.first_seen_at, settings.churn_risk)
        return Standing(REGISTERED, risk, 0, None, pace, math.inf, math.inf, figures.stages)
    last = max(o.time for o in orders)
    since = days(as_of - last)
    risk = forecast.churn_risk(found, figures)
    cuts = figures.stages
    if risk >= cuts.churned_at:
        stage = CHURNED
    elif risk >= cuts.dormant_at:
        stage = DORMANT
    else:
        stage = LOYAL if len(orders) >= settings.loyal_min_orders else NEW
    # Only the next crossing is worked out (the other waits for it): inf = not yet, or never.
    dormant_after = churned_after = math.inf
    if stage in (NEW, LOYAL):
        dormant_after = _crossing(found, figures, cuts.dormant_at, since)
    elif stage == DORMANT:
        dormant_after, churned_after = since, _crossing(found, figures, cuts.churned_at, since)
    return Standing(stage, round(risk, 4), len(orders), last, pace, dormant_after, churned_after, cuts)


def _crossing(found: forecast.History, figures: Figures, level: float, since: float) -> float:
    ahead = forecast.days_until(found, figures, level)
    return since + ahead if ahead is not None else math.inf


def _after(threshold: Threshold, pace: Rhythm) -> float:
    return round(max(threshold.min_days, threshold.factor * pace.days), 4)


def days_since(standing: Standing, as_of: datetime) -> int | None:
    return None if standing.last_order is None else int((as_of - standing.last_order) / DAY)
