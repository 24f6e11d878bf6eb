"""Comparing the arms of a split: Wilson intervals, an exact or chi-squared test, a power estimate.

Everything is computed by scipy; this module only chooses the test and words the result:

* a conversion rate's 95 % interval is Wilson's score interval (``binomtest(...).proportion_ci``),
  which stays inside [0, 1] and behaves for small counts and rates near 0 or 1;
* an arm is compared with the baseline by Fisher's exact test when any expected cell of
  the 2×2 table is below 5, otherwise by Pearson's chi-squared test without continuity
  correction (what Braze reports);
* when a difference is not significant, the customers per arm a test would need to see
  the observed difference with 80 % power at α = 0.05 (two-sided) come from the standard
  normal-approximation formula for two proportions, and never fewer than the approximation
  itself needs (about 5 expected conversions and 5 non-conversions per arm).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy.stats import binomtest, chi2_contingency, fisher_exact, norm

ALPHA = 0.05
POWER = 0.8
MIN_EXPECTED = 5  # below this expected count in any cell, the chi-squared approximation is not trusted


@dataclass(frozen=True)
class Interval:
    low: float
    high: float


@dataclass(frozen=True)
class Comparison:
    """One arm against the baseline arm."""

    lift: float | None  # relative: (rate - base) / base; None when the base rate is 0
    difference: float  # rate - base rate, in absolute terms
    p_value: float
    test: str  # "fisher" or "chi2"
    significant: bool
    needed_per_arm: int | None  # customers per arm for 80 % power at the observed rates; None: no difference


def rate(conversions: int, customers: int) -> float:
    return conversions / customers if customers else 0.0


def wilson(conversions: int, customers: int, confidence: float = 0.95) -> Interval:
    """Wilson's score interval of a conversion rate; [0, 1] when nobody is in the arm yet."""
    if customers == 0:
        return Interval(0.0, 1.0)
    ci = binomtest(conversions, customers).proportion_ci(confidence_level=confidence, method="wilson")
    return Interval(float(ci.low), float(ci.high))


def compare(arm: tuple[int, int], base: tuple[int, int]) -> Comparison:
    """``arm`` and ``base`` are (conversions, customers). Both arms need at least one customer."""
    (a_conv, a_n), (b_conv, b_n) = arm, base
    table = [[a_conv, a_n - a_conv], [b_conv, b_n - b_conv]]
    p_value, test = _test(table)
    a_rate, b_rate = rate(a_conv, a_n), rate(b_conv, b_n)
    return Comparison(
        lift=(a_rate - b_rate) / b_rate if b_rate else None,
        difference=a_rate - b_rate,
        p_value=p_value,
        test=test,
        significant=p_value < ALPHA,
        needed_per_arm=needed_per_arm(a_rate, b_rate),
    )


def _test(table: list[list[int]]) -> tuple[float, str]:
    conversions = table[0][0] + table[1][0]
    misses = table[0][1] + table[1][1]
    if conversions == 0 or misses == 0:
        return 1.0, "fisher"  # nobody (or everybody) converted: the arms cannot differ
    total = conversions + misses
    rows = [sum(row) for row in table]
    expected = [r * c / total for r in rows for c in (conversions, misses)]
    if min(expected) < MIN_EXPECTED:
        return float(fisher_exact(table).pvalue), "fisher"
    return float(chi2_contingency(table, correction=False).pvalue), "chi2"


def needed_per_arm(p1: float, p0: float, alpha: float = ALPHA, power: float = POWER) -> int | None:
    """Customers per arm for a two-sided test to detect p1 vs p0 (normal approximation)."""
    if p1 == p0:
        return None
    z_alpha, z_beta = norm.ppf(1 - alpha / 2), norm.ppf(power)
    mean = (p1 + p0) / 2
    spread = z_alpha * math.sqrt(2 * mean * (1 - mean)) + z_beta * math.sqrt(p1 * (1 - p1) + p0 * (1 - p0))
    # The approximation needs about MIN_EXPECTED conversions and non-conversions per arm to hold.
    floor = MIN_EXPECTED / min(mean, 1 - mean)
    return math.ceil(max(float(spread) ** 2 / (p1 - p0) ** 2, floor))


def verdict(name: str, base: str, comparison: Comparison, sizes: tuple[int, int]) -> str:
    """One plain sentence about an arm against the baseline."""
    if comparison.significant:
        way = "better" if comparison.difference > 0 else "worse"
        return f"{name} converts {way} than {base} (p = {comparison.p_value:.3g}, {comparison.test})."
    if comparison.needed_per_arm is None:
        return f"{name} and {base} convert alike so far; no sample size would tell them apart at these rates."
    more = max(0, comparison.needed_per_arm - min(sizes))
    return (
        f"Not significant yet (p = {comparison.p_value:.3g}): to see a difference of "
        f"{abs(comparison.difference) * 100:.1f} points, about {comparison.needed_per_arm} customers per arm "
        f"are needed ({more} more per arm)."
    )
