"""Per-customer forecasts from fitted figures (``core.figures``): a few logs and exps each.

``History`` is what a customer's paid orders say as of a moment, in days: repeat buying
moments x, the last one t_x days after the first, T days since the first, the mean order
amount. BG/NBD (Fader, Hardie & Lee 2005) gives, with population parameters r, alpha, a, b,

    P(alive)            = 1 / (1 + a / (b + x - 1) · ((alpha + T) / (alpha + t_x)) ^ (r + x))   (1 when x = 0)
    P(no purchase in h) = 1 - P(alive) · (1 - ((alpha + T) / (alpha + T + h)) ^ (r + x))

Churn risk is a logistic model over that chance's log odds and log(1 + ·) of repeat
moments, recency, age and mean amount (weights fitted offline). The next interval in a
category is log-normal: the customer's mean log interval is the population's, moved
toward their own intervals by how many they have (normal-normal shrinkage).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from orchestrator.core.figures import BgNbd, Figures, IntervalFit

_DAY = timedelta(days=1)
_EDGE = 1e-6  # chances are kept inside (0, 1) before taking log odds
_LIMIT_DAYS = 3650.0  # a crossing further away than this is never
_MINUTE = 1 / 1440
_HOUR = 1 / 24


@dataclass(frozen=True)
class History:
    repeat: int  # buying moments after the first
    last: float  # days from the first buying moment to the last
    age: float  # days from the first buying moment to as_of
    amount: float  # mean paid order amount

    def later(self, days: float) -> History:
        return History(self.repeat, self.last, self.age + days, self.amount)


def history(moments: Sequence[datetime], amounts: Sequence[float], as_of: datetime) -> History | None:
    """``moments``: distinct buying moments up to ``as_of``, oldest first; None before the first."""
    if not moments:
        return None
    first = moments[0]
    mean = sum(amounts) / len(amounts) if amounts else 0.0
    return History(len(moments) - 1, (moments[-1] - first) / _DAY, max((as_of - first) / _DAY, 0.0), max(mean, 0.0))


def quiet(h: History, p: BgNbd, horizon_days: float) -> float:
    """BG/NBD's chance of no purchase within ``horizon_days`` after as_of."""
    shape, alpha = p.r + h.repeat, p.alpha_days
    alive = 1.0
    if h.repeat > 0:
        log_odds = math.log(p.a / (p.b + h.repeat - 1)) + shape * math.log((alpha + h.age) / (alpha + h.last))
        alive = 0.0 if log_odds > 50 else 1 / (1 + math.exp(log_odds))
    return 1 - alive * (1 - math.pow((alpha + h.age) / (alpha + h.age + horizon_days), shape))


def churn_features(h: History, p: BgNbd, horizon_days: float) -> tuple[float, ...]:
    """The churn model's inputs, in ``figures.CHURN_FEATURES`` order."""
    q = min(max(quiet(h, p, horizon_days), _EDGE), 1 - _EDGE)
    return (
        1.0,
        math.log(q / (1 - q)),
        math.log1p(h.repeat),
        math.log1p(max(h.age - h.last, 0.0)),
        math.log1p(h.age),
        math.log1p(h.amount),
    )


def churn_risk(h: History, figures: Figures) -> float:
    """The chance of no purchase within ``figures.churn.horizon_days`` after as_of."""
    z = _score(_model(figures), h.repeat, h.last, h.age, h.amount)
    return 1 / (1 + math.exp(-z)) if z > -50 else 0.0


Model = tuple[float, ...]  # r, alpha, a, b, horizon, then the weights: hashable, for the cache below


def _model(figures: Figures) -> Model:
    p = figures.bgnbd
    return (p.r, p.alpha_days, p.a, p.b, figures.churn.horizon_days, *figures.churn.vector())


def _score(model: Model, repeat: int, last: float, age: float, amount: float) -> float:
    """The churn model's log odds (``churn_features`` · weights), from plain numbers."""
    r, alpha, a, b, horizon, w0, w_odds, w_repeat, w_recency, w_age, w_amount = model
    shape = r + repeat
    alive = 1.0
    if repeat > 0:
        log_odds = math.log(a / (b + repeat - 1)) + shape * math.log((alpha + age) / (alpha + last))
        alive = 0.0 if log_odds > 50 else 1 / (1 + math.exp(log_odds))
    q = 1 - alive * (1 - math.pow((alpha + age) / (alpha + age + horizon), shape))
    q = min(max(q, _EDGE), 1 - _EDGE)
    return (
        w0
        + w_odds * math.log(q / (1 - q))
        + w_repeat * math.log1p(repeat)
        + w_recency * math.log1p(max(age - last, 0.0))
        + w_age * math.log1p(age)
        + w_amount * math.log1p(amount)
    )


def days_until(h: History, figures: Figures, level: float) -> float | None:
    """Days after as_of when time alone first takes the churn risk to ``level`` (0 if it is
    there already; None if not within ten years of the first purchase)."""
    age = _age_at(_model(figures), h.repeat, h.last, h.amount, level)
    return None if age is None else max(age - h.age, 0.0)


@functools.lru_cache(maxsize=8192)
def _age_at(model: Model, repeat: int, last: float, amount: float, level: float) -> float | None:
    """The age (days since the first purchase) at which the risk reaches ``level``, rounded up
    to the minute so that the risk judged then is at the level. It does not depend on as_of,
    so every event of a customer between orders asks the same question (hence the cache).
    The log odds are solved for by regula falsi (Illinois) in a bracket found by steps of four."""
    target = math.log(level / (1 - level))

    def gap(age: float) -> float:
        return _score(model, repeat, last, age, amount) - target

    low, gap_low = last, gap(last)
    if gap_low >= 0:
        return last
    high = last + 8.0
    while (gap_high := gap(high)) < 0:
        if high >= _LIMIT_DAYS:
            return None
        low, gap_low, high = high, gap_high, min(last + (high - last) * 4, _LIMIT_DAYS)
    side = 0
    for _ in range(60):
        if high - low <= _HOUR:
            break
        middle = min(max(high - gap_high * (high - low) / (gap_high - gap_low), low + _MINUTE), high - _MINUTE)
        found = gap(middle)
        if found >= 0:
            high, gap_high = middle, found
            gap_low, side = (gap_low / 2 if side == -1 else gap_low), -1
        else:
            low, gap_low = middle, found
            gap_high, side = (gap_high / 2 if side == 1 else gap_high), 1
    return math.ceil(high / _MINUTE) * _MINUTE


def next_interval(gaps: Sequence[float], fit: IntervalFit) -> float:
    """The customer's predicted median days to the next buying moment in the category."""
    logs = [math.log(max(g, 1.0)) for g in gaps]
    precision = 1 / fit.between_var + len(logs) / fit.within_var
    mean = (fit.mean_log / fit.between_var + sum(logs) / fit.within_var) / precision
    return round(math.exp(mean), 2)


def purchase_chance(h: History, p: BgNbd, window_days: float) -> float:
    """BG/NBD's chance of a purchase within ``window_days`` after as_of."""
    return 1 - quiet(h, p, window_days)
