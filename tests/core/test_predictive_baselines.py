"""The CDNOW report's baselines on small known inputs: naive timing rules, one base rate, reliability."""

from __future__ import annotations

from datetime import date, timedelta

from bench.predictive import baselines, metrics, tables

D0 = date(1997, 1, 1)


def _days(*offsets: int) -> list[date]:
    return [D0 + timedelta(days=o) for o in offsets]


def test_last_interval_rule_raises_after_each_purchase_unless_the_next_came_first() -> None:
    days = {"A": _days(0, 10, 30, 31), "B": _days(5)}
    raised = baselines.alarms(days, baselines.last_interval, lead=3)
    # after day 10: last interval 10 → day 17 (next purchase day 30 comes later: raised);
    # after day 30: 20 → day 47, but day 31 came first; after day 31: 1 → day 31 (max(1 - 3, 0) days on)
    assert raised == {"A": _days(17, 31)}
    # own median of two intervals or more, else 12: day 0 → 9, day 10 → 19, day 30 → 42 (day 31 came first),
    # day 31 → median(10, 20, 1) = 10 → 38
    assert baselines.alarms(days, baselines.own_median(12.0), lead=3) == {"A": _days(9, 19, 38), "B": _days(14)}


def test_one_base_rate_for_every_rule() -> None:
    days = {"A": _days(0, 40), "B": _days(0)}
    span = (D0, D0 + timedelta(days=60))
    only_a = metrics.alarms({"A": _days(35)}, days, span, 10)
    on_everyone = metrics.alarms({"A": _days(35)}, days, span, 10, base=days)
    assert only_a.precision == on_everyone.precision == 1.0
    assert on_everyone.base_rate == only_a.base_rate / 2  # B never buys again: half the chance


def test_reliability_table_gives_predicted_and_observed_per_decile() -> None:
    scores = [k / 100 for k in range(100)]
    outcomes = [k % 10 < k // 10 for k in range(100)]  # decile d: d of its 10 customers had the outcome
    lines = tables.reliability("x", scores, outcomes)
    rows = [line for line in lines if line.startswith("| ") and line[2].isdigit()]
    assert len(rows) == 10
    assert rows[0] == "| 1 | 0.000 - 0.090 | 0.045 | 0.0% |"
    assert rows[9] == "| 10 | 0.900 - 0.990 | 0.945 | 90.0% |"
    assert "mean gap 0.045" in lines[0]
