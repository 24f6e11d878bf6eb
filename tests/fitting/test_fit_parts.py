"""The fitting's parts on small known inputs: band AUC and cuts, interval moments, back-test rows."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from orchestrator.fitting.churn import backtest_rows, band_auc, best_cuts
from orchestrator.fitting.cycles import fit_intervals
from orchestrator.fitting.history import Order

DAY = timedelta(days=1)
T0 = datetime(2025, 1, 1, 12, tzinfo=UTC)


def test_band_auc_counts_pairs_across_bands() -> None:
    scores = np.array([0.1, 0.2, 0.5, 0.6, 0.9, 0.95])
    positives = np.array([False, False, False, True, True, True])
    assert band_auc(scores, positives, (0.55, 0.85)) == 1.0  # every positive in a higher band than every negative
    # bands 0,0,1,1,2,2: positive(1) vs negative(1) is a tie → (3 + 3 + 2 + 0.5) / 9
    assert band_auc(scores, positives, (0.3, 0.8)) == pytest.approx(8.5 / 9)
    assert band_auc(scores, positives, (2.0, 3.0)) == 0.5  # one band: no order


def test_best_cuts_find_the_separating_levels() -> None:
    scores = [float(i) for i in range(100)]
    positives = [i >= 60 for i in range(100)]
    low, high = best_cuts(scores, positives)
    assert band_auc(np.array(scores), np.array(positives), (low, high)) == 1.0
    with pytest.raises(ValueError, match="do not spread"):
        best_cuts([1.0] * 10, [True, False] * 5)


def _orders(*days: float, category: str = "tea") -> list[Order]:
    return [Order(f"O{k}", T0 + d * DAY, 10.0, (category,)) for k, d in enumerate(days)]


def test_interval_moments_separate_within_and_between_customers() -> None:
    # half the customers buy every 10 days, half every 40: the spread is between customers
    history = {f"F{i}": _orders(0, 10, 20, 30) for i in range(20)} | {
        f"S{i}": _orders(0, 40, 80, 120) for i in range(20)
    }
    fits = fit_intervals(history, T0 + 365 * DAY, 30)
    tea = fits["tea"]
    assert tea.mean_log == pytest.approx((math.log(10) + math.log(40)) / 2, abs=1e-6)
    assert tea.within_var == 0.01  # each customer is perfectly regular: the floor
    assert tea.between_var == pytest.approx((math.log(40) - math.log(10)) ** 2 / 4 - 0.01, abs=1e-6)
    assert tea.customers == 40
    assert fits["*"] == tea  # one category: the same orders
    assert fit_intervals({"F": _orders(0, 10)}, T0 + 365 * DAY, 30) == {}  # too few customers to fit


def test_backtest_rows_use_what_was_known_at_each_origin() -> None:
    history = {"A": _orders(0, 100, 200), "B": _orders(150)}
    until = T0 + 300 * DAY
    rows = backtest_rows(history, until, 90, 2)  # origins: day 210 and day 180
    by = [(r.history.repeat, round(r.history.age), r.quiet) for r in rows]
    assert by == [(2, 210, True), (0, 60, True), (1, 180, False), (0, 30, True)]  # A bought on day 200
