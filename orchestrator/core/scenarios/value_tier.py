"""Value tier: RFM scores (1-5 each) to tiers (普通/银/金/钻 …) by their sum.

Recency is days since the last paid order: 5 before the first cut, 1 from the last one on.
Frequency (paid orders) and monetary (their amount) score 1 plus the cuts they reach.
``method: quantiles`` takes the frequency and monetary cuts from the population's running
quantiles instead (a customer scores 1 plus the cuts they exceed), once
``population_min`` customers are in; until then, and for recency, the thresholds hold.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from orchestrator.core.population import FREQUENCY, MONETARY, Population
from orchestrator.core.scenario_spec import ValueTierSettings
from orchestrator.core.scenarios.base import days, paid_until
from orchestrator.core.state import OrderRecord, Profile


@dataclass(frozen=True)
class Ranking:
    tier: str
    r: int
    f: int
    m: int
    recency_days: float
    frequency: int
    monetary: float
    method: str  # thresholds | quantiles

    @property
    def score(self) -> int:
        return self.r + self.f + self.m

    def figures(self) -> dict[str, float]:
        return {
            "r": self.r,
            "f": self.f,
            "m": self.m,
            "score": self.score,
            "recency_days": self.recency_days,
            "frequency": self.frequency,
            "monetary": self.monetary,
        }


def evaluate(
    profile: Profile,
    as_of: datetime,
    settings: ValueTierSettings,
    population: Population,
    paid: list[OrderRecord] | None = None,
) -> Ranking | None:
    """The customer's RFM ranking as of ``as_of``; None before the first paid order.
    ``paid``: ``base.paid_until(profile, as_of)`` when the caller has it."""
    paid = paid_until(profile, as_of) if paid is None else paid
    if not paid:
        return None
    recency = round(days(as_of - max(o.time for o in paid)), 2)
    frequency, monetary = len(paid), round(sum(o.amount for o in paid), 2)
    r = 5 - sum(recency >= cut for cut in settings.recency_days)
    method, f, m = "thresholds", _reached(frequency, settings.frequency), _reached(monetary, settings.monetary)
    quantile_cuts = _population_cuts(settings, population) if settings.method == "quantiles" else None
    if quantile_cuts is not None:
        method = "quantiles"
        f = 1 + sum(frequency > cut for cut in quantile_cuts[0])
        m = 1 + sum(monetary > cut for cut in quantile_cuts[1])
    score = r + f + m
    tier = next(t.name for t in settings.tiers if t.min_score <= score)
    return Ranking(tier, r, f, m, recency, frequency, monetary, method)


def lowest(settings: ValueTierSettings) -> str:
    return settings.tiers[-1].name


def crossings(
    profile: Profile, as_of: datetime, settings: ValueTierSettings, paid: list[OrderRecord] | None = None
) -> list[datetime]:
    """When time alone would lower the recency score."""
    paid = paid_until(profile, as_of) if paid is None else paid
    if not paid:
        return []
    last = max(o.time for o in paid)
    return [last + timedelta(days=cut) for cut in settings.recency_days]


def _reached(value: float, cuts: tuple[float, ...]) -> int:
    return 1 + sum(value >= cut for cut in cuts)


def _population_cuts(settings: ValueTierSettings, population: Population) -> tuple[list[float], list[float]] | None:
    cuts = []
    for key in (FREQUENCY, MONETARY):
        values = [population.quantile(key, q, settings.population_min) for q in settings.quantiles]
        if any(v is None for v in values):
            return None
        cuts.append([v for v in values if v is not None])
    return cuts[0], cuts[1]
