"""What the detectors must beat: recency alone, BG/NBD by ``lifetimes``, naive timing rules.

* BG/NBD: ``lifetimes.BetaGeoFitter`` fitted on every customer's (frequency, recency, T)
  in days as of the calibration date (``lifetimes.utils.summary_data_from_transaction_data``);
  the chance of no purchase within h days is ``1 - P(alive) · (1 - ((alpha + T) / (alpha + T + h)) ^ (r + x))``.
* Recency bands: days since the last order in three bands, cut where they order the
  calibration back-tests best (``fitting.churn.best_cuts``, as the fitted stages are cut).
* Last interval: a hit ``lead`` days before the last purchase + the interval before it.
* Own median: the shipped rule without figures (own median of two intervals or more, else
  the population's median, computed here from the calibration period).
"""

from __future__ import annotations

import itertools
import statistics
import warnings
from collections.abc import Callable, Sequence
from datetime import date, timedelta

import pandas as pd

from bench.predictive.data import Purchase

Days = dict[str, list[date]]


def bgnbd_quiet(purchases: list[Purchase], cutoff: date, horizon: int) -> dict[str, float]:
    with warnings.catch_warnings():  # lifetimes 0.11.3 (its last release) sets pandas options pandas 3 deprecates
        warnings.simplefilter("ignore")
        from lifetimes import BetaGeoFitter  # noqa: PLC0415 - only this baseline needs it
        from lifetimes.utils import summary_data_from_transaction_data  # noqa: PLC0415

    before = [(p.customer, p.day) for p in purchases if p.day < cutoff]
    frame = pd.DataFrame(before, columns=["customer", "day"])
    summary = summary_data_from_transaction_data(
        frame, "customer", "day", freq="D", observation_period_end=pd.Timestamp(cutoff)
    )
    fitter = BetaGeoFitter(penalizer_coef=0.0).fit(summary["frequency"], summary["recency"], summary["T"])
    alive = fitter.conditional_probability_alive(summary["frequency"], summary["recency"], summary["T"])
    p = fitter.params_
    shape = p["r"] + summary["frequency"]
    silent = ((p["alpha"] + summary["T"]) / (p["alpha"] + summary["T"] + horizon)) ** shape
    quiet = 1 - alive * (1 - silent)
    return {str(cid): float(q) for cid, q in zip(summary.index, quiet, strict=True)}


def bands(values: Sequence[float], cuts: tuple[float, float]) -> list[int]:
    return [(v >= cuts[0]) + (v >= cuts[1]) for v in values]


Rule = Callable[[list[int]], float | None]


def last_interval(gaps: list[int]) -> float | None:
    return float(gaps[-1]) if gaps else None


def own_median(population: float) -> Rule:
    def rule(gaps: list[int]) -> float | None:
        return float(statistics.median(gaps)) if len(gaps) >= 2 else population

    return rule


def population_median(days: Days, cutoff: date) -> float:
    gaps = [(b - a).days for d in days.values() for a, b in itertools.pairwise(sorted(set(d))) if b < cutoff]
    return float(statistics.median(gaps))


def alarms(days: Days, rule: Rule, lead: int) -> Days:
    """Hits a timer rule raises: after each buying day, at that day + interval - lead, unless
    the next purchase came first."""
    raised: Days = {}
    for cid, days_bought in days.items():
        bought = sorted(set(days_bought))
        for k, last in enumerate(bought):
            interval = rule([(b - a).days for a, b in itertools.pairwise(bought[: k + 1])])
            if interval is None:
                continue
            due = last + timedelta(days=max(round(interval) - lead, 0))
            if k + 1 < len(bought) and bought[k + 1] <= due:
                continue
            raised.setdefault(cid, []).append(due)
    return raised
