"""The report: per journey and version, the funnel, refusals, exits, suppressions, failures and splits.

Plain data (dataclasses) built from the tallies and the receipts; ``render`` and ``html``
present it, ``as_dict`` is the JSON form.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from orchestrator.analytics import stats
from orchestrator.analytics.funnel import BASELINES, Key, Tally, tally
from orchestrator.analytics.reader import Log


@dataclass(frozen=True)
class StepRow:
    step: str
    reached: int
    sent: int
    delivered: int
    clicked: int
    replied: int
    goal: int  # instances that reached this step and the journey's goal


@dataclass(frozen=True)
class ArmRow:
    arm: str
    customers: int
    conversions: int
    rate: float
    low: float  # 95 % Wilson interval
    high: float
    baseline: bool
    lift: float | None = None  # against the baseline, relative
    p_value: float | None = None
    test: str | None = None
    significant: bool | None = None
    needed_per_arm: int | None = None
    verdict: str = ""


@dataclass(frozen=True)
class SplitReport:
    step: str
    baseline: str
    arms: list[ArmRow]


@dataclass(frozen=True)
class JourneyReport:
    journey: str
    version: int
    entered: int
    customers: int
    converted: int
    refused: dict[str, int]
    exits: dict[str, int]
    steps: list[StepRow]
    suppressed: dict[str, int]
    failures: dict[str, int]
    splits: list[SplitReport] = field(default_factory=list)


StepOrder = dict[tuple[str, int], list[str]]  # (journey, version) → its step ids as written


def build(log: Log, journey: str | None = None, order: StepOrder | None = None) -> list[JourneyReport]:
    """``order``: the funnel lists steps as the journey file does; otherwise in the order first reached."""
    return [_journey(t, log.receipts, (order or {}).get((t.journey, t.version), [])) for t in tally(log, journey)]


def as_dict(reports: list[JourneyReport]) -> list[dict[str, Any]]:
    return [dataclasses.asdict(r) for r in reports]


def _journey(t: Tally, receipts: dict[str, set[str]], written: list[str]) -> JourneyReport:
    rank = {step: i for i, step in enumerate(written)}
    names = sorted(t.steps, key=lambda s: rank.get(s, len(rank)))  # stable: steps not written keep their order
    return JourneyReport(
        journey=t.journey,
        version=t.version,
        entered=len(t.entered),
        customers=len(t.customers),
        converted=len(t.converted),
        refused=dict(t.refused.most_common()),
        exits=dict(t.exits.most_common()),
        steps=[_step(t, name, receipts) for name in names],
        suppressed=dict(t.suppressed.most_common()),
        failures=dict(t.failures.most_common()),
        splits=[_split(t, step, arms) for step, arms in t.arms.items()],
    )


def _step(t: Tally, name: str, receipts: dict[str, set[str]]) -> StepRow:
    counts = t.steps[name]
    got = [receipts.get(a, set()) for a in counts.actions]
    return StepRow(
        step=name,
        reached=len(counts.reached),
        sent=len(counts.sent),
        delivered=sum(1 for g in got if "delivered" in g),
        clicked=sum(1 for g in got if "clicked" in g),
        replied=sum(1 for g in got if "replied" in g),
        goal=len(counts.reached & t.goals),
    )


def _split(t: Tally, step: str, arms: dict[str, set[Key]]) -> SplitReport:
    names = sorted(arms)
    baseline = next((n for n in names if n.lower() in BASELINES), names[0])
    sizes = {n: ({c for c, _ in arms[n]}, {c for c, i in arms[n] if (c, i) in t.goals}) for n in names}
    base_n, base_conv = len(sizes[baseline][0]), len(sizes[baseline][1])
    rows = []
    for name in [baseline, *(n for n in names if n != baseline)]:
        customers, converted = len(sizes[name][0]), len(sizes[name][1])
        interval = stats.wilson(converted, customers)
        row = ArmRow(
            name, customers, converted, stats.rate(converted, customers), interval.low, interval.high, name == baseline
        )
        if name != baseline and customers and base_n:
            c = stats.compare((converted, customers), (base_conv, base_n))
            verdict = stats.verdict(name, baseline, c, (customers, base_n))
            row = dataclasses.replace(
                row,
                lift=c.lift,
                p_value=c.p_value,
                test=c.test,
                significant=c.significant,
                needed_per_arm=c.needed_per_arm,
                verdict=verdict,
            )
        rows.append(row)
    return SplitReport(step, baseline, rows)
