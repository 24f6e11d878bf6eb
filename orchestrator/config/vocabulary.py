"""What the engine knows by name: event types, value tiers, lifecycle stages, channels, scenarios.

A condition comparing ``profile.value_tier`` with ``'钻石'`` compiles and never holds when the
tiers are 普通/银/金/钻. Validation compares every such literal with the names below.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from orchestrator.config.conditions import Vocabulary
from orchestrator.core.journey_spec import CHANNELS, JourneySpec, ScenarioTrigger, SplitStep, UpdateStep
from orchestrator.core.products import ProductCatalog
from orchestrator.core.scenario_spec import ScenarioSettings, ValueTierSettings
from orchestrator.core.scenarios import SCENARIOS

LIFECYCLE_STAGES = ("registered", "new", "loyal", "dormant", "churned")


@dataclass(frozen=True)
class Known:
    """The names a journey may use, from the engine and from the operator's own files."""

    events: frozenset[str]
    tiers: tuple[str, ...]
    events_file: str = "journeys/events.yaml"  # where operators declare their own event types
    scenarios: frozenset[str] = SCENARIOS
    products: ProductCatalog = field(default_factory=ProductCatalog)  # for recommend() in dry renders
    categories: tuple[str, ...] = ()  # what consumption_cycle_ending tracks: catalog, rhythm, chat words
    tags: tuple[str, ...] | None = None  # every tag an update step or a survey rule sets (None: not known)

    @classmethod
    def of(
        cls, events: frozenset[str], settings: ScenarioSettings, events_file: str, products: ProductCatalog
    ) -> Known:
        tiers = tuple(t.name for t in (settings.value_tier or ValueTierSettings()).tiers)
        cycle = settings.consumption_cycle_ending
        tracked = {p.category for p in products.products.values()}
        tracked |= set(cycle.rhythm_categories) | set(cycle.category_words) if cycle else set()
        return cls(events, tiers, events_file, products=products, categories=tuple(sorted(tracked)))


def tags_set(journeys: list[JourneySpec], settings: ScenarioSettings) -> tuple[str, ...]:
    """Profile tags come only from update steps and the survey detector's answer rules."""
    tags = {t for j in journeys for s in j.steps if isinstance(s, UpdateStep) for t in s.update.add_tags}
    tags |= {rule.tag for rule in settings.surveys.tags} if settings.surveys else set()
    return tuple(sorted(tags))


def condition_vocabularies(journey: JourneySpec, known: Known) -> dict[str, Vocabulary]:
    """Path in a condition → the values it can take (``.*``: the keys it can have)."""
    tiers = Vocabulary("value tier", known.tiers)
    stages = Vocabulary("lifecycle stage", LIFECYCLE_STAGES)
    scenarios = Vocabulary("scenario", tuple(sorted(known.scenarios)))
    events = Vocabulary("event type", tuple(sorted(known.events)))
    found = {
        "profile.value_tier": tiers,
        "profile.lifecycle": stages,
        "profile.consent.*": Vocabulary("channel", tuple(sorted(CHANNELS - {"task"}))),
        "profile.last_hits.*": scenarios,
        "scenario.name": scenarios,
        "event.type": events,
        "trigger.type": events,
    }
    if known.tags is not None:
        found["profile.tags"] = Vocabulary("tag any update step or survey rule sets", known.tags, "such tags")
    variants = tuple(name for step in journey.steps if isinstance(step, SplitStep) for name in step.split)
    if variants:
        found["journey.variant"] = Vocabulary("variant of this journey", variants, "its variants")
    trigger = journey.trigger
    if isinstance(trigger, ScenarioTrigger) and trigger.scenario == "consumption_cycle_ending" and known.categories:
        found["scenario.category"] = Vocabulary("tracked category", known.categories, "tracked categories")
    if isinstance(trigger, ScenarioTrigger) and trigger.scenario in ("lifecycle.changed", "value_tier.changed"):
        changed = stages if trigger.scenario == "lifecycle.changed" else tiers
        found["scenario.from"] = found["scenario.to"] = changed
    return found
