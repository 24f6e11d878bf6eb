"""What the core needs from outside, as values: a renderer and a condition evaluator.

Both are pure callables compiled at load time (see ``orchestrator.templating``); the
core never loads a file or a template engine itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from orchestrator.core.journey_spec import JourneySpec
from orchestrator.core.products import ProductCatalog


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
    by_scenario: Mapping[str, tuple[JourneySpec, ...]] = field(default_factory=dict)
    by_version: Mapping[tuple[str, int], JourneySpec] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        journeys: tuple[JourneySpec, ...],
        products: ProductCatalog,
        renderer: Renderer,
        conditions: ConditionEvaluator,
    ) -> World:
        by_scenario: dict[str, list[JourneySpec]] = {}
        for journey in journeys:
            by_scenario.setdefault(journey.trigger.scenario, []).append(journey)
        return cls(
            journeys=journeys,
            products=products,
            renderer=renderer,
            conditions=conditions,
            by_scenario={k: tuple(v) for k, v in by_scenario.items()},
            by_version={(j.id, j.version): j for j in journeys},
        )

    def live(self, journeys: tuple[JourneySpec, ...]) -> tuple[JourneySpec, ...]:
        """Per journey id, only the newest version takes new entries."""
        newest: dict[str, JourneySpec] = {}
        for journey in journeys:
            if journey.id not in newest or journey.version > newest[journey.id].version:
                newest[journey.id] = journey
        return tuple(newest.values())
