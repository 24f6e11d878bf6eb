"""The statistics against scipy's own results and textbook figures."""

from __future__ import annotations

import math

import pytest
from scipy.stats import binomtest, chi2_contingency, fisher_exact

from orchestrator.analytics import stats


@pytest.mark.parametrize(("k", "n"), [(0, 10), (3, 10), (10, 10), (45, 300), (512, 1000)])
def test_wilson_is_scipys_and_the_closed_form(k: int, n: int) -> None:
    got = stats.wilson(k, n)
    ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    assert (got.low, got.high) == (pytest.approx(ci.low), pytest.approx(ci.high))
    z, p = 1.959963984540054, k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    assert (got.low, got.high) == (pytest.approx(max(0.0, centre - half)), pytest.approx(min(1.0, centre + half)))


def test_an_empty_arm_has_the_whole_interval() -> None:
    assert stats.wilson(0, 0) == stats.Interval(0.0, 1.0)


def test_small_counts_use_fishers_exact_test() -> None:
    c = stats.compare((7, 12), (2, 11))
    assert c.test == "fisher"
    assert c.p_value == pytest.approx(fisher_exact([[7, 5], [2, 9]]).pvalue)


def test_large_counts_use_pearsons_chi_squared() -> None:
    c = stats.compare((130, 1000), (100, 1000))
    assert c.test == "chi2"
    assert c.p_value == pytest.approx(chi2_contingency([[130, 870], [100, 900]], correction=False).pvalue)
    assert c.significant
    assert c.lift == pytest.approx(0.3)
    assert c.difference == pytest.approx(0.03)


def test_nobody_converting_anywhere_is_no_difference() -> None:
    c = stats.compare((0, 50), (0, 50))
    assert (c.p_value, c.significant, c.lift, c.needed_per_arm) == (1.0, False, None, None)


def test_the_sample_size_is_the_textbook_one() -> None:
    # 10 % vs 15 %, two-sided α = 0.05, power 0.8: 686 per group (Fleiss, without continuity correction).
    assert stats.needed_per_arm(0.15, 0.10) == 686
    assert stats.needed_per_arm(0.10, 0.15) == 686
    assert stats.needed_per_arm(0.2, 0.2) is None
    # 0 % against 100 % needs few customers by the formula, but not fewer than the approximation holds for.
    assert stats.needed_per_arm(1.0, 0.0) == 10


def test_the_sentence_says_how_many_more_per_arm() -> None:
    c = stats.compare((12, 100), (10, 100))
    assert not c.significant
    assert c.needed_per_arm is not None
    sentence = stats.verdict("A", "holdout", c, (100, 100))
    assert f"about {c.needed_per_arm} customers per arm" in sentence
    assert f"({c.needed_per_arm - 100} more per arm)" in sentence
    assert "better" in stats.verdict("A", "holdout", stats.compare((130, 1000), (100, 1000)), (1000, 1000))
