"""What the core needs from outside, as values: a renderer, a condition evaluator, a calendar,
detector settings, a word segmenter and the population's running figures.

The renderer and evaluator are compiled at load time (see ``orchestrator.templating``);
the core never loads a file or a template engine itself.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
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
from orchestrator.core.versions import Versions


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
    newest: Mapping[str, JourneySpec] = field(init=False)  # in force once every active_from has passed
    versions: Versions = field(init=False, repr=False, compare=False)  # which version is in force when
    _live: dict[tuple[type[Any], int], tuple[JourneySpec, ...]] = field(
        init=False, default_factory=dict, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        scheduled = [j.id for j in self.journeys if isinstance(j.trigger, ScheduleTrigger)]
        if scheduled and self.cron is None:  # fail when the world is built, not at the first event
            raise ValueError(f"journeys {', '.join(scheduled)} have a schedule: World needs cron (config.cron)")
        versions = Versions.of(self.journeys)
        # Derived lookups of a frozen value, computed once.
        object.__setattr__(self, "by_version", {(j.id, j.version): j for j in self.journeys})
        object.__setattr__(self, "versions", versions)
        object.__setattr__(self, "newest", versions.latest())

    def with_population(self, population: Population) -> World:
        """This world with ``population``. ``replace`` would work out again what the journeys alone
        decide (versions, lookups) and empty the cache of live journeys; the population moves
        with every batch of a worker and every order of a dry run."""
        moved = copy.copy(self)
        object.__setattr__(moved, "population", population)  # a new frozen value, set as dataclasses set one
        return moved

    def current(self, journey_id: str, now: datetime) -> JourneySpec | None:
        """The version of ``journey_id`` in force at ``now`` (it alone takes new entries)."""
        return self.versions.at(now).get(journey_id)

    def live(self, kind: type[Any], now: datetime) -> tuple[JourneySpec, ...]:
        """The version in force at ``now`` of each live journey triggered by ``kind``, highest priority first."""
        epoch = self.versions.epoch(now)
        cached = self._live.get((kind, epoch))
        if cached is None:  # asked for every input: worked out once per kind and epoch
            in_force = self.versions.in_force[epoch].values()
            found = [j for j in in_force if isinstance(j.trigger, kind) and j.status == "live"]
            cached = self._live[(kind, epoch)] = tuple(sorted(found, key=lambda j: (-j.priority, j.id)))
        return cached
