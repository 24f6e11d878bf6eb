"""Detector settings: what operators write in ``journeys/scenarios.yaml``.

A detector whose section is absent (or ``null``) is off, except the consumption cycle,
which runs from the product catalog as before. Shapes are checked here (pydantic,
``extra="forbid"``); references between sections (``chat_intent`` names) by
``problems()``, so that the loader can point at the line.
"""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import Annotated, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeFloat,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    model_validator,
)

from orchestrator.core.durations import Duration

Word = Annotated[str, Field(min_length=1, max_length=30)]
Category = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
EventType = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$")]
Cuts = tuple[PositiveFloat, PositiveFloat, PositiveFloat, PositiveFloat]
Where = tuple[str | int, ...]


class _Spec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class IntentRule(_Spec):
    """A line shows the intent when it holds one phrase, or every word of one keyword group."""

    phrases: tuple[Word, ...] = ()
    keywords: tuple[tuple[Word, ...], ...] = Field(default=(), description="each group: all of its words")

    @model_validator(mode="after")
    def _something_to_match(self) -> Self:
        if not self.phrases and not self.keywords:
            raise ValueError("an intent needs phrases or keywords")
        if any(not group for group in self.keywords):
            raise ValueError("a keyword group needs at least one word")
        return self


class ChatSettings(_Spec):
    """Chat intents: phrases and keyword groups, matched on word boundaries, with simple negation."""

    negations: tuple[Word, ...] = ("没", "没有", "还没", "不", "不是", "别", "未")
    negation_window: int = Field(default=2, ge=0, le=5, description="words before a phrase that can negate it")
    dictionary: tuple[Word, ...] = Field(default=(), description="extra words for the segmenter")
    senders: tuple[str, ...] = Field(default=("customer",), description="whose lines count (data.sender)")
    intents: dict[Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")], IntentRule] = Field(default_factory=dict)

    def words(self) -> tuple[str, ...]:
        """Every word the segmenter must keep whole: dictionary, phrases, keywords, negations."""
        found: dict[str, None] = dict.fromkeys(self.dictionary)
        for rule in self.intents.values():
            found.update(dict.fromkeys(rule.phrases))
            for group in rule.keywords:
                found.update(dict.fromkeys(group))
        found.update(dict.fromkeys(self.negations))
        return tuple(found)


class CycleSettings(_Spec):
    """consumption_cycle_ending beyond the catalog: the customer's own rhythm, and chat."""

    lead_days: NonNegativeInt = Field(default=3, description="for categories the catalog has no figure for")
    min_intervals: PositiveInt = Field(default=2, description="own repurchase intervals needed to trust them")
    population_min: PositiveInt = Field(default=30, description="intervals seen before the population median counts")
    rhythm_categories: tuple[Category, ...] = Field(default=(), description="tracked by rhythm when not in the catalog")
    chat_intent: str | None = None
    category_words: dict[Category, tuple[Word, ...]] = Field(default_factory=dict)


class FriendsSettings(_Spec):
    """buying_for_friends: a friend asked in chat, a gift order, a recipient who is not the buyer."""

    chat_intent: str | None = None
    gift_fields: tuple[str, ...] = Field(default=("gift",), description="order data flags that mark a gift")
    recipient_differs: bool = True
    cooldown: Duration = timedelta(days=7)


class MovingSettings(_Spec):
    """moving_house: big kitchen appliances within a window, install requests, chat."""

    categories: tuple[Category, ...] = Field(min_length=1)
    min_categories: PositiveInt = 2
    window: Duration = timedelta(days=30)
    install_events: tuple[EventType, ...] = ("install.requested",)
    chat_intent: str | None = None
    cooldown: Duration = timedelta(days=180)


class Threshold(_Spec):
    factor: PositiveFloat = Field(description="× the customer's rhythm (median days between orders)")
    min_days: NonNegativeFloat = 0


class ChurnRisk(_Spec):
    """The chance of no purchase within ``horizon``, by MBG/NBD with these priors (not fitted).

    Dropping out after a purchase: beta(a, b); the buying rate while alive: gamma(r, alpha),
    i.e. r purchases in ``alpha_days`` before the customer's own history says more.
    """

    horizon: Duration = timedelta(days=90)
    a: PositiveFloat = 1.0
    b: PositiveFloat = 2.0
    r: PositiveFloat = 1.0
    alpha_days: PositiveFloat = 60.0


class LifecycleSettings(_Spec):
    loyal_min_orders: int = Field(default=2, ge=2)
    min_intervals: PositiveInt = 2
    population_min: PositiveInt = 30
    default_interval_days: PositiveFloat = 60
    dormant: Threshold = Threshold(factor=2.0, min_days=45)
    churned: Threshold = Threshold(factor=4.0, min_days=120)
    grace: Duration = Field(default=timedelta(days=1), description="late uploads: judge a crossing this long after")
    churn_risk: ChurnRisk = ChurnRisk()

    @model_validator(mode="after")
    def _churn_after_dormancy(self) -> Self:
        if self.churned.factor <= self.dormant.factor or self.churned.min_days < self.dormant.min_days:
            raise ValueError("churned must come after dormant: a larger factor and min_days at least as large")
        return self


class Tier(_Spec):
    name: str = Field(min_length=1, max_length=20)
    min_score: int = Field(ge=3, le=15, description="R + F + M scores, each 1-5")


def _ascending(values: tuple[float, ...], what: str) -> None:
    if any(b <= a for a, b in itertools.pairwise(values)):
        raise ValueError(f"{what} must be strictly ascending")


class ValueTierSettings(_Spec):
    method: Literal["thresholds", "quantiles"] = "thresholds"
    recency_days: Cuts = (90, 180, 365, 730)
    frequency: Cuts = (2, 3, 5, 8)
    monetary: Cuts = (300, 1000, 3000, 8000)
    quantiles: tuple[float, float, float, float] = (0.2, 0.4, 0.6, 0.8)
    population_min: PositiveInt = 100
    tiers: tuple[Tier, ...] = (
        Tier(name="钻", min_score=13),
        Tier(name="金", min_score=11),
        Tier(name="银", min_score=8),
        Tier(name="普通", min_score=3),
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        for name in ("recency_days", "frequency", "monetary", "quantiles"):
            _ascending(getattr(self, name), name)
        if not all(0 < q < 1 for q in self.quantiles):
            raise ValueError("quantiles must lie between 0 and 1")
        scores = [t.min_score for t in self.tiers]
        if not scores or scores != sorted(scores, reverse=True) or len(set(scores)) != len(scores):
            raise ValueError("tiers go from the highest min_score down, each min_score once")
        if scores[-1] != 3:
            raise ValueError("the last tier must start at min_score 3, so that every customer has a tier")
        return self


class Maintenance(_Spec):
    interval_days: PositiveInt
    interval_km: PositiveFloat | None = None


class ServiceSettings(_Spec):
    default: Maintenance | None = Field(default=None, description="for brands not listed; none: only listed brands")
    brands: dict[str, Maintenance] = Field(default_factory=dict, description="by brand, or by model name")
    lead_days: NonNegativeInt = 14
    daily_km: PositiveFloat = Field(default=40, description="projection until the customer's own readings say more")
    min_span_days: PositiveInt = 30
    stale_after_days: NonNegativeInt = 30


class TagRule(_Spec):
    question: str | None = Field(default=None, description="question id or text; none: any question")
    answer: str = Field(min_length=1)
    match: Literal["equals", "contains"] = "equals"
    tag: str = Field(min_length=1, max_length=40)


class Scale(_Spec):
    min: float
    max: float


class HighEffort(_Spec):
    metric: str = "ces"
    at_least: float | None = 5
    at_most: float | None = None

    @model_validator(mode="after")
    def _one_bound(self) -> Self:
        if (self.at_least is None) == (self.at_most is None):
            raise ValueError("give exactly one of at_least, at_most")
        return self


class SurveySettings(_Spec):
    tags: tuple[TagRule, ...] = ()
    scales: dict[str, Scale] = Field(
        default_factory=lambda: {"nps": Scale(min=0, max=10), "ces": Scale(min=1, max=7), "csat": Scale(min=1, max=5)}
    )
    high_effort: HighEffort | None = HighEffort()


class PopulationSeed(_Spec):
    """Medians to use until enough of the population has been seen (category, or * for all orders)."""

    interval_days: dict[str, PositiveFloat] = Field(default_factory=dict)


class ScenarioSettings(_Spec):
    chat: ChatSettings = ChatSettings()
    consumption_cycle_ending: CycleSettings | None = CycleSettings()
    buying_for_friends: FriendsSettings | None = None
    moving_house: MovingSettings | None = None
    lifecycle: LifecycleSettings | None = None
    value_tier: ValueTierSettings | None = None
    service_due: ServiceSettings | None = None
    surveys: SurveySettings | None = None
    population: PopulationSeed = PopulationSeed()


def problems(settings: ScenarioSettings) -> list[tuple[Where, str]]:
    """What a schema cannot see: every ``chat_intent`` names an intent under ``chat.intents``."""
    found: list[tuple[Where, str]] = []
    known = settings.chat.intents
    for section in ("consumption_cycle_ending", "buying_for_friends", "moving_house"):
        intent = getattr(getattr(settings, section), "chat_intent", None)
        if intent is not None and intent not in known:
            names = ", ".join(sorted(known)) or "none"
            found.append(((section, "chat_intent"), f"no intent {intent!r} under chat.intents; known: {names}"))
    surveys = settings.surveys
    if surveys and surveys.high_effort and surveys.high_effort.metric not in surveys.scales:
        found.append((("surveys", "high_effort", "metric"), f"no scale {surveys.high_effort.metric!r} under scales"))
    return found
