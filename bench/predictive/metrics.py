"""Small, dependency-free measures: AUC, rates by group, deciles, precision and recall of alarms."""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta


def auc(scores: Sequence[float], positives: Sequence[bool]) -> float:
    """Area under the ROC curve (Mann-Whitney U, ties counted half): P(score of a positive > a negative)."""
    ranked = sorted(zip(scores, positives, strict=True), key=lambda p: p[0])
    rank_sum, index = 0.0, 0
    while index < len(ranked):
        end = index
        while end < len(ranked) and ranked[end][0] == ranked[index][0]:
            end += 1
        mid_rank = (index + 1 + end) / 2  # ranks are 1-based; ties share their mean rank
        rank_sum += mid_rank * sum(1 for _, positive in ranked[index:end] if positive)
        index = end
    n_pos = sum(1 for p in positives if p)
    n_neg = len(positives) - n_pos
    if not n_pos or not n_neg:
        return float("nan")
    return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


@dataclass(frozen=True)
class Group:
    name: str
    customers: int
    rate: float  # share with the outcome


def rates(groups: Iterable[tuple[str, bool]], order: Sequence[str] = ()) -> list[Group]:
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for name, outcome in groups:
        counts[name][0] += 1
        counts[name][1] += outcome
    names = [n for n in order if n in counts] + sorted(n for n in counts if n not in order)
    return [Group(n, counts[n][0], counts[n][1] / counts[n][0]) for n in names]


def deciles(scores: Sequence[float], outcomes: Sequence[bool]) -> list[tuple[float, float, float]]:
    """(lowest score, highest score, outcome rate) per tenth of the customers, lowest scores first."""
    ranked = sorted(zip(scores, outcomes, strict=True), key=lambda p: p[0])
    tenths = []
    for k in range(10):
        part = ranked[k * len(ranked) // 10 : (k + 1) * len(ranked) // 10]
        tenths.append((part[0][0], part[-1][0], sum(o for _, o in part) / len(part)))
    return tenths


@dataclass(frozen=True)
class Alarms:
    alarms: int
    precision: float  # alarms followed by a purchase within N days
    base_rate: float  # a purchase within N days of a random day, same customers and period
    recall: float  # purchases that had an alarm in the N days before
    purchases: int

    @property
    def lift(self) -> float:
        return self.precision / self.base_rate if self.base_rate else float("nan")


Days = dict[str, list[date]]  # customer → sorted days


def alarms(alarm_days: Days, purchase_days: Days, span: tuple[date, date], n: int, base: Iterable[str] = ()) -> Alarms:
    """Alarms raised in ``span`` (ending n days before the data does), judged by purchases within n days.

    The base rate is taken over the customers in ``base`` (default: those with alarms), so
    that rules compared on one base have lifts in the ratio of their precisions."""
    start, stop = span
    window = timedelta(days=n)
    hit = total = 0
    for cid, days in alarm_days.items():
        bought = purchase_days.get(cid, [])
        for day in days:
            if start <= day <= stop:
                total += 1
                hit += _bought_within(bought, day, window)
    caught = purchases = 0
    for cid, bought in purchase_days.items():
        raised = sorted(alarm_days.get(cid, []))
        for day in bought:
            if start + window <= day <= stop + window:
                purchases += 1
                i = bisect.bisect_left(raised, day - window)
                caught += i < len(raised) and raised[i] < day
    base_rate = _base_rate(list(base) or list(alarm_days), purchase_days, span, window)
    precision = hit / total if total else float("nan")
    return Alarms(total, precision, base_rate, caught / purchases if purchases else 0.0, purchases)


def _bought_within(bought: list[date], day: date, window: timedelta) -> bool:
    i = bisect.bisect_right(bought, day)
    return i < len(bought) and bought[i] <= day + window


def _base_rate(customers: list[str], purchase_days: Days, span: tuple[date, date], window: timedelta) -> float:
    """P(a purchase within the window) from every 7th day of the span, for these customers."""
    yes = total = 0
    for cid in customers:
        bought = purchase_days.get(cid, [])
        day = span[0]
        while day <= span[1]:
            total += 1
            yes += _bought_within(bought, day, window)
            day += timedelta(days=7)
    return yes / total if total else float("nan")
