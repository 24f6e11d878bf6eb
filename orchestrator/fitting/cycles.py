"""Fit the repurchase-interval model per category, and the chance a cycle hit must reach.

Per category (and ``*`` for all orders): the logs of the days between a customer's buying
moments in it, by moments. ``within_var`` is the pooled variance around each customer's
own mean (customers with two intervals or more), ``between_var`` what is left of the
total variance, ``mean_log`` the mean. ``min_chance`` is then chosen on a back-test inside
the calibration period: hits raised as the core would raise them (``forecast.next_interval``,
``lead_days`` before) in the 150 days before ``until - w``, judged by the purchases in the w
days after them, for w of one, two and three windows; the level (0 to 0.5 by 0.025) with the
best F1 of precision and recall, summed over the three.
"""

from __future__ import annotations

import bisect
import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from orchestrator.core import forecast
from orchestrator.core.figures import BgNbd, IntervalFit
from orchestrator.core.scenarios.base import gaps, purchase_times
from orchestrator.fitting.history import History, Order

ALL = "*"
_MIN_CUSTOMERS = 30  # customers with an interval before a category gets its own fit
_SPAN_DAYS = 150


def category_orders(orders: Sequence[Order], category: str) -> list[Order]:
    return list(orders) if category == ALL else [o for o in orders if category in o.categories]


def log_gaps(orders: Iterable[Order]) -> list[float]:
    return [math.log(max(g, 1.0)) for g in gaps(purchase_times(o.time for o in orders))]


def fit_intervals(history: History, until: datetime, window_days: float) -> dict[str, IntervalFit]:
    before = {cid: [o for o in orders if o.time < until] for cid, orders in history.items()}
    categories = sorted({c for orders in before.values() for o in orders for c in o.categories})
    fits = {}
    for category in (ALL, *categories):
        per_customer = [log_gaps(category_orders(orders, category)) for orders in before.values()]
        fit = _moments([g for g in per_customer if g], window_days)
        if fit is not None:
            fits[category] = fit
    return fits


def _moments(per_customer: list[list[float]], window_days: float) -> IntervalFit | None:
    if len(per_customer) < _MIN_CUSTOMERS:
        return None
    logs = [g for gs in per_customer for g in gs]
    repeated = [gs for gs in per_customer if len(gs) >= 2]
    freedom = sum(len(gs) - 1 for gs in repeated)
    spread = sum((g - statistics.fmean(gs)) ** 2 for gs in repeated for g in gs)
    within = max(spread / freedom if freedom else statistics.pvariance(logs), 0.01)
    between = max(statistics.pvariance(logs) - within, 0.01)
    mean = statistics.fmean(logs)
    return IntervalFit(
        mean_log=round(mean, 6),
        between_var=round(between, 6),
        within_var=round(within, 6),
        customers=len(per_customer),
        window_days=window_days,
    )


@dataclass(frozen=True)
class CycleModel:
    fit: IntervalFit
    bgnbd: BgNbd
    lead_days: float


def hits(orders: Sequence[Order], category: str, model: CycleModel) -> list[tuple[datetime, float]]:
    """Each hit the core would raise for the category: (when, the fitted chance of a purchase after it)."""
    fit = model.fit
    lines = category_orders(orders, category)
    moments = purchase_times(o.time for o in lines)
    everything = list(orders)
    found = []
    for k, last in enumerate(moments):
        interval = forecast.next_interval(gaps(moments[: k + 1]), fit)
        due = last + timedelta(days=interval - model.lead_days)
        if k + 1 < len(moments) and moments[k + 1] <= due:
            continue  # the next order moved the timer before it fired
        upto = [o for o in everything if o.time <= last + timedelta(days=1)]
        standing = forecast.history(purchase_times(o.time for o in upto), [o.amount for o in upto], due)
        chance = forecast.purchase_chance(standing, model.bgnbd, fit.window_days) if standing else 0.0
        found.append((due, chance))
    return found


Case = tuple[list[datetime], list[tuple[datetime, float]]]  # a customer's buying moments, and hits (due, chance)


def fit_min_chance(history: History, until: datetime, category: str, model: CycleModel) -> float:
    """The gate with the best F1 on the back-test, averaged over one, two and three windows."""
    cases: list[Case] = []
    for orders in history.values():
        before = [o for o in orders if o.time < until]
        found = [h for h in hits(before, category, model) if h[0] < until]
        cases.append((purchase_times(o.time for o in category_orders(before, category)), found))
    windows = [timedelta(days=model.fit.window_days * k) for k in (1, 2, 3)]
    scores = [sum(_f1(cases, until, window, step * 0.025) for window in windows) for step in range(21)]
    best = max(range(21), key=lambda step: (scores[step], -step))
    return round(best * 0.025, 3)


def _f1(cases: list[Case], until: datetime, window: timedelta, gate: float) -> float:
    """F1 of the hits at this gate raised in the span before ``until - window``, judged by the window after them."""
    start, stop = until - window - timedelta(days=_SPAN_DAYS), until - window
    kept = bought_after = caught = purchases = 0
    for bought, found in cases:
        raised = [due for due, chance in found if chance >= gate]
        for due in raised:
            if start <= due <= stop:
                i = bisect.bisect_right(bought, due)
                kept += 1
                bought_after += i < len(bought) and bought[i] <= due + window
        for day in bought:
            if start + window <= day <= stop + window:
                purchases += 1
                caught += any(day - window <= due < day for due in raised)
    precision = bought_after / kept if kept else 0.0
    recall = caught / purchases if purchases else 0.0
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0
