"""Fit BG/NBD (by ``lifetimes``), the churn-risk model over it, and the stage cuts.

Everything is fitted on the events before ``until`` only. BG/NBD's population parameters
come from every customer's history as of ``until``. The churn model is a logistic
regression of "no purchase within the horizon" on ``core.forecast``'s features, fitted on
back-tests that end by ``until``: as of ``until - horizon``, and every 30 days before, up
to ``origins`` of them, each judged by the horizon after it. The stage cuts are the two
churn-risk levels that order those back-test customers best in three bands (the AUC of
loyal < dormant < churned), from a grid of risk quantiles.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import minimize

from orchestrator.core import forecast
from orchestrator.core.figures import CHURN_FEATURES, BgNbd, ChurnFit, Figures, StageCuts
from orchestrator.core.scenarios.base import purchase_times
from orchestrator.fitting.history import History, Order

Floats = NDArray[np.float64]
_RIDGE = 1e-3  # a touch of L2 so that the weights exist on any data


@dataclass(frozen=True)
class Row:
    history: forecast.History
    quiet: bool  # no purchase within the horizon after the origin


def standing(orders: Sequence[Order], as_of: datetime) -> forecast.History | None:
    """What the core would see as of ``as_of`` (orders strictly before it)."""
    before = [o for o in orders if o.time < as_of]
    return forecast.history(purchase_times(o.time for o in before), [o.amount for o in before], as_of)


def fit_bgnbd(orders: History, until: datetime) -> BgNbd:
    found = [h for h in (standing(o, until) for o in orders.values()) if h is not None]
    if len(found) < 50:
        raise ValueError(f"{len(found)} customers bought before {until.date()}: BG/NBD needs at least 50")
    with warnings.catch_warnings():  # lifetimes 0.11.3 (its last release) sets pandas options pandas 3 deprecates
        warnings.simplefilter("ignore")
        from lifetimes import BetaGeoFitter  # noqa: PLC0415 - heavy (pandas); only the fit needs it

        fitter = BetaGeoFitter(penalizer_coef=0.0)
        repeat, last, age = (np.array([getattr(h, k) for h in found]) for k in ("repeat", "last", "age"))
        fitter.fit(repeat, last, age)
    p = fitter.params_
    return BgNbd(r=float(p["r"]), alpha_days=float(p["alpha"]), a=float(p["a"]), b=float(p["b"]))


def backtest_rows(orders: History, until: datetime, horizon_days: float, origins: int) -> list[Row]:
    horizon = timedelta(days=horizon_days)
    rows = []
    for k in range(origins):
        origin = until - horizon - timedelta(days=30 * k)
        for customer in orders.values():
            found = standing(customer, origin)
            if found is not None:
                bought = any(origin <= o.time < origin + horizon for o in customer)
                rows.append(Row(found, not bought))
    return rows


def fit_churn(rows: Sequence[Row], bgnbd: BgNbd, horizon_days: float) -> ChurnFit:
    x = np.array([forecast.churn_features(r.history, bgnbd, horizon_days) for r in rows])
    y = np.array([float(r.quiet) for r in rows])
    if len(set(y.tolist())) < 2:
        raise ValueError("the back-tests need customers who bought and customers who did not")

    def loss(w: Floats) -> tuple[float, Floats]:
        z = x @ w
        value = float(np.sum(np.logaddexp(0, z) - y * z) + _RIDGE * w @ w)
        return value, x.T @ (1 / (1 + np.exp(-z)) - y) + 2 * _RIDGE * w

    found = minimize(loss, np.zeros(x.shape[1]), jac=True, method="L-BFGS-B")
    weights = {name: round(float(w), 6) for name, w in zip(CHURN_FEATURES, found.x, strict=True)}
    return ChurnFit(horizon_days=horizon_days, weights=weights)


def band_auc(scores: Floats, positives: NDArray[np.bool_], cuts: tuple[float, float]) -> float:
    """AUC of three bands (below the first cut, between, from the second on) against the outcome."""
    bands = (scores >= cuts[0]).astype(int) + (scores >= cuts[1]).astype(int)
    pos = np.bincount(bands[positives], minlength=3).astype(float)
    neg = np.bincount(bands[~positives], minlength=3).astype(float)
    below = np.concatenate(([0.0], np.cumsum(neg)[:-1]))
    total = pos.sum() * neg.sum()
    return float((pos @ below + 0.5 * pos @ neg) / total) if total else float("nan")


def best_cuts(scores: Sequence[float], positives: Sequence[bool]) -> tuple[float, float]:
    """The two cuts, from a grid of the scores' 5 %-quantiles, whose bands give the highest AUC."""
    values = np.asarray(scores, dtype=float)
    outcome = np.asarray(positives, dtype=bool)
    grid = sorted({round(float(q), 4) for q in np.quantile(values, np.linspace(0.05, 0.95, 19))})
    pairs = [(low, high) for low in grid for high in grid if high > low]
    if not pairs:
        raise ValueError("the scores do not spread: no two distinct cuts")
    return max(pairs, key=lambda cuts: (band_auc(values, outcome, cuts), -cuts[0]))


def fit_stages(rows: Sequence[Row], probe: Figures) -> StageCuts:
    risks = [forecast.churn_risk(r.history, probe) for r in rows]
    low, high = best_cuts(risks, [r.quiet for r in rows])
    return StageCuts(dormant_at=low, churned_at=high)
