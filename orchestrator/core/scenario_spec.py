"""Detector settings: what operators write in ``journeys/scenarios.yaml``.

A detector whose section is absent (or ``null``) is off, except the consumption cycle,
which runs from the product catalog as before. Shapes are checked here (pydantic,
``extra="forbid"``); references between sections (``chat_intent`` names) by
``problems()``, so that the loader can point at the line.
"""

from __future__ import annotations

import itertools
import weakref
from dataclasses import dataclass
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
from orchestrator.core.patterns import GAP, Pattern, compile_pattern
from orchestrator.core.text import normalize

Word = Annotated[str, Field(min_length=1, max_length=30)]
Category = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
EventType = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$")]
Cuts = tuple[PositiveFloat, PositiveFloat, PositiveFloat, PositiveFloat]
Where = tuple[str | int, ...]


class _Spec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class IntentRule(_Spec):
    """A line shows the intent when a clause holds one phrase, matches one pattern, or holds
    every word of one keyword group, and no ``unless`` pattern overlaps what matched."""

    phrases: tuple[Word, ...] = ()
    patterns: tuple[PatternText, ...] = Field(default=(), description="slots of words: 给|帮 {people} ... 买")
    keywords: tuple[tuple[Word, ...], ...] = Field(default=(), description="each group: all of its words")
    unless: tuple[PatternText, ...] = Field(default=(), description="patterns that veto an overlapping match")
    not_with: tuple[Word, ...] = Field(default=(), description="words that veto the intent anywhere in the line")
    questions: bool = Field(default=True, description="false: a clause a question mark ends does not show the intent")
    model: ModelRule | None = Field(default=None, description="a classifier learnt from intent_examples.yaml")

    @model_validator(mode="after")
    def _something_to_match(self) -> Self:
        if not self.phrases and not self.keywords and not self.patterns:
            raise ValueError("an intent needs phrases, patterns or keywords")
        if any(not group for group in self.keywords):
            raise ValueError("a keyword group needs at least one word")
        for text in (*self.patterns, *self.unless, *(self.model.cues if self.model else ())):
            compile_pattern(normalize(text), _AnyClass())  # the syntax; class names are checked by problems()
        return self


class ModelRule(_Spec):
    """A character n-gram classifier learnt from the intent's examples (``journeys/intent_examples.yaml``)
    beside the rules: it adds lines no rule matched (``add_above``) or vetoes rule matches (``veto_below``)."""

    cues: tuple[PatternText, ...] = Field(
        default=(), description="the model adds a line only where a clause matches one, not negated or vetoed"
    )
    add_above: float | None = Field(default=None, gt=0, lt=1, description="no rule matched: P(intent) ≥ this fires")
    veto_below: float | None = Field(default=None, gt=0, lt=1, description="a rule matched: P(intent) < this vetoes")
    strength: PositiveFloat = Field(default=10.0, description="inverse regularisation (scikit-learn's C)")

    @model_validator(mode="after")
    def _does_something(self) -> Self:
        if self.add_above is None and self.veto_below is None:
            raise ValueError("a model needs add_above, veto_below or both")
        if self.add_above is not None and not self.cues:
            raise ValueError("add_above needs cues: the words a line must hold before the model may add it")
        return self


class _AnyClass(dict[str, tuple[str, ...]]):
    def __contains__(self, key: object) -> bool:
        return True

    def __getitem__(self, key: str) -> tuple[str, ...]:
        return ("?",)


@dataclass(frozen=True)
class CompiledIntent:
    """An intent's rules, parsed once (``ChatSettings.compiled``)."""

    name: str
    phrases: tuple[tuple[str, Pattern], ...]
    patterns: tuple[Pattern, ...]
    keywords: tuple[tuple[tuple[str, ...], tuple[Pattern, ...]], ...]
    unless: tuple[Pattern, ...]
    not_with: tuple[Pattern, ...] = ()
    cues: tuple[Pattern, ...] = ()  # where the model may add a line (``ModelRule.cues``)
    model: ModelRule | None = None
    questions: bool = True  # ``IntentRule.questions``: False skips the clauses a question mark ends

    def all_patterns(self) -> tuple[Pattern, ...]:
        keywords = tuple(p for _, group in self.keywords for p in group)
        return (*(p for _, p in self.phrases), *self.patterns, *keywords, *self.unless, *self.not_with, *self.cues)


class ChatSettings(_Spec):
    """Chat intents: phrases, word patterns and keyword groups on word boundaries, with negation."""

    negations: tuple[Word, ...] = ("没", "没有", "还没", "不", "不是", "别", "未")
    not_negations: tuple[Word, ...] = Field(
        default=("别人", "别的", "不错", "不少", "不过", "不仅", "不断", "不同", "不久", "不到"),
        description="words that begin or end with a negation but do not negate",
    )
    negation_window: int = Field(default=2, ge=0, le=5, description="words before a match that can negate it")
    max_gap: int = Field(default=3, ge=0, le=8, description="words '...' may skip in a pattern")
    max_chars: int = Field(default=1000, ge=1, description="a longer line is read up to here")
    dictionary: tuple[Word, ...] = Field(default=(), description="extra words for the segmenter")
    classes: dict[Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")], tuple[Word, ...]] = Field(
        default_factory=dict, description="named word lists for patterns: {people}"
    )
    senders: tuple[str, ...] = Field(default=("customer",), description="whose lines count (data.sender)")
    intents: dict[Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")], IntentRule] = Field(default_factory=dict)

    def words(self) -> tuple[str, ...]:
        """Every word the segmenter must keep whole: dictionary, phrases, pattern and keyword words, negations."""
        found: dict[str, None] = dict.fromkeys(self.dictionary)
        for words in self.classes.values():
            found.update(dict.fromkeys(words))
        for rule in self.intents.values():
            found.update(dict.fromkeys((*rule.phrases, *rule.not_with)))
            for text in (*rule.patterns, *rule.unless, *(rule.model.cues if rule.model else ())):
                found.update(dict.fromkeys(w for w in _literal_words(text) if len(w) > 1))
            for group in rule.keywords:
                found.update(dict.fromkeys(group))
        found.update(dict.fromkeys(self.negations))
        found.update(dict.fromkeys(self.not_negations))
        return tuple(found)

    @property
    def negations_set(self) -> frozenset[str]:
        return _compiled(self).negations

    @property
    def not_negations_set(self) -> frozenset[str]:
        return _compiled(self).not_negations

    @property
    def negation_chars(self) -> frozenset[str]:
        """The characters negations begin or end with (a quick test before the full one)."""
        return _compiled(self).negation_chars

    @property
    def vocabulary(self) -> frozenset[str]:
        """Every word some phrase, pattern or keyword of an intent can match."""
        return _compiled(self).vocabulary

    @property
    def compiled(self) -> tuple[CompiledIntent, ...]:
        """The intents' rules parsed (once per settings object: ``model_copy`` makes a new one)."""
        return _compiled(self).intents


@dataclass(frozen=True)
class _Compiled:
    owner: weakref.ref[ChatSettings]
    intents: tuple[CompiledIntent, ...]
    negations: frozenset[str]
    not_negations: frozenset[str]
    vocabulary: frozenset[str]
    negation_chars: frozenset[str]


_CACHE: dict[int, _Compiled] = {}


def _compiled(chat: ChatSettings) -> _Compiled:
    found = _CACHE.get(id(chat))
    if found is not None and found.owner() is chat:
        return found
    classes = {k: tuple(normalize(w) for w in v) for k, v in chat.classes.items()}
    intents = []
    for name, rule in chat.intents.items():
        try:
            intents.append(_compile(name, rule, classes))
        except ValueError as error:
            raise ValueError(f"intents.{name}: {error}") from None
    key = id(chat)
    made = _Compiled(
        owner=weakref.ref(chat, lambda _: _CACHE.pop(key, None)),
        intents=tuple(intents),
        negations=frozenset(normalize(n) for n in chat.negations),
        not_negations=frozenset(normalize(n) for n in chat.not_negations),
        vocabulary=frozenset(w for intent in intents for p in intent.all_patterns() for w in p.words()),
        negation_chars=frozenset(c for n in chat.negations for c in (normalize(n)[:1], normalize(n)[-1:]) if c),
    )
    _CACHE[key] = made
    return made


PatternText = Annotated[str, Field(min_length=1, max_length=300)]


def _literal_words(text: str) -> list[str]:
    parts = (p.removesuffix("?") for p in text.split() if p != GAP)
    return [w for p in parts for w in p.split("|") if w and not w.startswith("{")]


def _compile(name: str, rule: IntentRule, classes: dict[str, tuple[str, ...]]) -> CompiledIntent:
    def one(word: str) -> Pattern:
        return compile_pattern(normalize(word).replace(" ", ""), classes)

    return CompiledIntent(
        name=name,
        phrases=tuple((p, one(p)) for p in rule.phrases),
        patterns=tuple(compile_pattern(normalize(p), classes) for p in rule.patterns),
        keywords=tuple((group, tuple(one(w) for w in group)) for group in rule.keywords),
        unless=tuple(compile_pattern(normalize(p), classes) for p in rule.unless),
        not_with=tuple(one(w) for w in rule.not_with),
        cues=tuple(compile_pattern(normalize(p), classes) for p in rule.model.cues) if rule.model else (),
        model=rule.model,
        questions=rule.questions,
    )


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


class NpsBands(_Spec):
    """Net Promoter bands of a 0-10 answer: detractor up to ``detractors_to``, promoter from ``promoters_from``."""

    metric: str = "nps"
    detractors_to: float = 6
    promoters_from: float = 9

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.detractors_to >= self.promoters_from:
            raise ValueError(
                f"detractors_to ({self.detractors_to:g}) must be below promoters_from ({self.promoters_from:g})"
            )
        return self


class SurveySettings(_Spec):
    tags: tuple[TagRule, ...] = ()
    scales: dict[str, Scale] = Field(
        default_factory=lambda: {"nps": Scale(min=0, max=10), "ces": Scale(min=1, max=7), "csat": Scale(min=1, max=5)}
    )
    high_effort: HighEffort | None = HighEffort()
    nps: NpsBands | None = NpsBands()  # None: no nps_promoter / nps_passive / nps_detractor hits


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


def _unknown_classes(chat: ChatSettings) -> list[tuple[Where, str]]:
    found: list[tuple[Where, str]] = []
    for name, rule in chat.intents.items():
        for field in ("patterns", "unless"):
            for i, text in enumerate(getattr(rule, field)):
                try:
                    compile_pattern(normalize(text), chat.classes)
                except ValueError as error:
                    found.append((("chat", "intents", name, field, i), str(error)))
        for i, text in enumerate(rule.model.cues if rule.model else ()):
            try:
                compile_pattern(normalize(text), chat.classes)
            except ValueError as error:
                found.append((("chat", "intents", name, "model", "cues", i), str(error)))
    return found


def problems(settings: ScenarioSettings) -> list[tuple[Where, str]]:
    """What a schema cannot see: every ``chat_intent`` names an intent under ``chat.intents``,
    every ``{class}`` in a pattern is under ``chat.classes``."""
    found: list[tuple[Where, str]] = []
    known = settings.chat.intents
    for section in ("consumption_cycle_ending", "buying_for_friends", "moving_house"):
        intent = getattr(getattr(settings, section), "chat_intent", None)
        if intent is not None and intent not in known:
            names = ", ".join(sorted(known)) or "none"
            found.append(((section, "chat_intent"), f"no intent {intent!r} under chat.intents; known: {names}"))
    found.extend(_unknown_classes(settings.chat))
    surveys = settings.surveys
    if surveys and surveys.high_effort and surveys.high_effort.metric not in surveys.scales:
        found.append((("surveys", "high_effort", "metric"), f"no scale {surveys.high_effort.metric!r} under scales"))
    if surveys and surveys.nps and surveys.nps.metric not in surveys.scales:
        found.append((("surveys", "nps", "metric"), f"no scale {surveys.nps.metric!r} under scales"))
    return found
