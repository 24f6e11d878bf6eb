"""What the core needs from outside, as values: a renderer, a condition evaluator, a calendar,
detector settings, a word segmenter and the population's running figures.

The renderer and evaluator are compiled at load time (see ``orchestrator.templating``);
the core never loads a file or a template engine itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from orchestrator.core.calendar import BusinessCalendar
from orchestrator.core.cron import CronPort
from orchestrator.core.figures import Figures
from orchestrator.core.identity import IdentityRules
from orchestrator.core.journey_spec import JourneySpec, ScheduleTrigger
from orchestrator.core.policy import ContactPolicy
from orchestrator.core.population import Population
from orchestrator.core.products import ProductCatalog
from orchestrator.core.scenario_spec import ScenarioSettings
from orchestrator.core.text import Tokenizer
from orchestrator.core.text_model import CharModel


class Renderer(Protocol):
    def render(self, template: str, context: Mapping[str, Any]) -> str:
        """Render a named template; raise StepError naming the template and line on failure."""
        ...


class ConditionEvaluator(Protocol):
    def evaluate(self, expression: str, context: Mapping[str, Any]) -> bool:
        """Evaluate a compiled condition; raise StepError when it cannot be evaluated."""
        ...


@dataclass(frozen=True)
class World:
    """Everything ``process`` reads besides the customer's state, the input and ``now``."""

    journeys: tuple[JourneySpec, ...]
    products: ProductCatalog
    renderer: Renderer
    conditions: ConditionEvaluator
    calendar: BusinessCalendar = field(default_factory=BusinessCalendar)
    policy: ContactPolicy = field(default_factory=ContactPolicy)
    scenarios: ScenarioSettings = field(default_factory=ScenarioSettings)
    tokenizer: Tokenizer | None = None  # None: the core's dictionary matcher over the configured words
    population: Population = field(default_factory=Population)
    cron: CronPort | None = None  # evaluates schedule triggers; None: the world has no schedule journeys
    identity: IdentityRules = field(default_factory=IdentityRules)  # OneID: journeys/identity.yaml
    intent_models: Mapping[str, CharModel] = field(default_factory=dict)  # chat intents' classifiers, by intent
    figures: Figures | None = None  # fitted offline (journeys/figures.yaml, core/figures.py); None: settings' priors
    by_version: Mapping[tuple[str, int], JourneySpec] = field(init=False)
    newest: Mapping[str, JourneySpec] = field(init=False)  # only these take new entries
    _live: dict[type[Any], tuple[JourneySpec, ...]] = field(init=False, default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        scheduled = [j.id for j in self.journeys if isinstance(j.trigger, ScheduleTrigger)]
        if scheduled and self.cron is None:  # fail when the world is built, not at the first event
            raise ValueError(f"journeys {', '.join(scheduled)} have a schedule: World needs cron (config.cron)")
        newest: dict[str, JourneySpec] = {}
        for journey in self.journeys:
            if journey.status == "draft":
                continue  # a draft never runs, and does not hide the live version
            if journey.id not in newest or journey.version > newest[journey.id].version:
                newest[journey.id] = journey
        # Derived lookups of a frozen value, computed once.
        object.__setattr__(self, "by_version", {(j.id, j.version): j for j in self.journeys})
        object.__setattr__(self, "newest", newest)

    def live(self, kind: type[Any]) -> tuple[JourneySpec, ...]:
        """The newest version of every live journey whose trigger is of ``kind``, highest priority first."""
        cached = self._live.get(kind)
        if cached is None:  # asked for every input: worked out once per kind
            found = [j for j in self.newest.values() if isinstance(j.trigger, kind) and j.status == "live"]
            cached = self._live[kind] = tuple(sorted(found, key=lambda j: (-j.priority, j.id)))
        return cached
