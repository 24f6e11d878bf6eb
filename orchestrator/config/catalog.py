"""Load and check everything operators wrote: journeys, the product catalog, the calendar,
the contact policy, the scenario detectors' settings, templates.

Two passes, both before a worker starts: (1) each file's shape (strict YAML, pydantic);
(2) cross-references (``checks.py``). Every problem is one ``file:line:column: field:
message``; any problem is a ConfigError and the worker refuses to start.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from orchestrator.config import hints
from orchestrator.config.calendar import CALENDAR_FILE, CalendarFile, build_calendar, calendar_gaps, warn_once
from orchestrator.config.checks import check_journey, check_scenario_enabled
from orchestrator.config.cron import CroniterSchedules
from orchestrator.config.events import EVENTS_FILE, EventsFile, did_you_mean, known_events
from orchestrator.config.problems import Problem, dotted, problem
from orchestrator.config.products import relation_problems
from orchestrator.config.versions import shadowed_versions
from orchestrator.config.vocabulary import Known, tags_set
from orchestrator.config.yaml_loader import LoadedYaml, Path_, load_yaml
from orchestrator.core.calendar import BusinessCalendar
from orchestrator.core.figures import Figures
from orchestrator.core.identity import IdentityRules
from orchestrator.core.journey_spec import STEP_KINDS, TRIGGER_KINDS, JourneySpec, WaitUntilStep
from orchestrator.core.policy import ContactPolicy
from orchestrator.core.ports import World
from orchestrator.core.products import ProductCatalog
from orchestrator.core.scenario_spec import ScenarioSettings
from orchestrator.core.scenario_spec import problems as scenario_problems
from orchestrator.errors import ConfigError
from orchestrator.intent_model import INTENT_EXAMPLES_FILE, IntentExamples, train, unknown_intents
from orchestrator.intent_model import problems as example_problems
from orchestrator.segmentation import JiebaTokenizer
from orchestrator.templating import Templates

CATALOG_FILE = "catalog.yaml"
POLICY_FILE = "policy.yaml"
SCENARIOS_FILE = "scenarios.yaml"
IDENTITY_FILE = "identity.yaml"  # OneID: identifier types, priorities, limits (core/identity.py)
FIGURES_FILE = "figures.yaml"  # fitted by `orchestrator fit` (core/figures.py, docs/decisions.md §6)
SETTINGS_FILES = frozenset(
    {
        CATALOG_FILE,
        CALENDAR_FILE,
        EVENTS_FILE,
        POLICY_FILE,
        SCENARIOS_FILE,
        IDENTITY_FILE,
        INTENT_EXAMPLES_FILE,
        FIGURES_FILE,
    }
)
Model = TypeVar("Model", bound=BaseModel)


@dataclass(frozen=True)
class Config:
    journeys: tuple[JourneySpec, ...]
    products: ProductCatalog
    templates: Templates
    calendar: BusinessCalendar
    policy: ContactPolicy
    sources: dict[tuple[str, int], Path]  # (journey id, version) → file
    scenarios: ScenarioSettings = field(default_factory=ScenarioSettings)
    identity: IdentityRules = field(default_factory=IdentityRules)
    intent_examples: IntentExamples = field(default_factory=IntentExamples)  # intent_examples.yaml
    figures: Figures | None = None

    def world(self) -> World:
        return World(
            journeys=self.journeys,
            products=self.products,
            renderer=self.templates,
            conditions=self.templates,
            calendar=self.calendar,
            policy=self.policy,
            scenarios=self.scenarios,
            tokenizer=JiebaTokenizer(self.scenarios.chat.words()),
            cron=CroniterSchedules(),
            identity=self.identity,
            intent_models=train(self.scenarios.chat, self.intent_examples),
            figures=self.figures,
        )


def load_config(
    journeys_dir: Path,
    templates_dir: Path,
    only: Sequence[Path] | None = None,
    calendar_years: Iterable[int] | None = None,
) -> Config:
    """Everything under ``journeys_dir`` (or just the files in ``only``), checked, or ConfigError.

    ``calendar_years``: the years the journeys will run in, for the holiday-calendar warning
    (default: this year and the next; empty: no warning, e.g. to draw a graph).
    """
    if not journeys_dir.is_dir():
        raise ConfigError([problem(journeys_dir, (1, 1), "", "journeys folder not found")])
    problems: list[Problem] = []
    products = _products(journeys_dir / CATALOG_FILE, problems)
    policy = _parse(journeys_dir / POLICY_FILE, ContactPolicy, problems) or ContactPolicy()
    identity = _parse(journeys_dir / IDENTITY_FILE, IdentityRules, problems) or IdentityRules()
    figures = _parse(journeys_dir / FIGURES_FILE, Figures, problems)
    scenarios = _scenarios(journeys_dir / SCENARIOS_FILE, problems)
    examples = _examples(journeys_dir, scenarios, problems)
    events_file = journeys_dir / EVENTS_FILE
    known = Known.of(known_events(_parse(events_file, EventsFile, problems)), scenarios, str(events_file), products)
    calendar = build_calendar(_parse(journeys_dir / CALENDAR_FILE, CalendarFile, problems))
    templates = Templates(templates_dir)
    files = only if only is not None else sorted(journeys_dir.glob("*.yaml"))
    journeys: list[tuple[JourneySpec, LoadedYaml]] = []
    for path in files:
        if path.name in SETTINGS_FILES:
            continue
        loaded = _load(path, problems)
        journey = _validate(loaded, JourneySpec, problems) if loaded else None
        if journey is not None and loaded is not None:
            journeys.append((journey, loaded))
    if only is None:  # with every journey at hand, a tag no journey or survey rule sets is known never to be there
        known = replace(known, tags=tags_set([j for j, _ in journeys], scenarios))
    sources: dict[tuple[str, int], Path] = {}
    for journey, loaded in journeys:
        key = (journey.id, journey.version)
        if key in sources:
            problems.append(
                problem(
                    loaded.path,
                    loaded.position_of(("version",)),
                    "version",
                    f"journey {journey.id} version {journey.version} is also in {sources[key]}",
                )
            )
        sources[key] = loaded.path
        problems.extend(check_journey(journey, loaded, templates, known))
        problems.extend(check_scenario_enabled(journey, loaded, scenarios, journeys_dir / SCENARIOS_FILE))
    problems.extend(shadowed_versions(journeys, datetime.now(tz=UTC)))
    if problems:
        raise ConfigError(sorted(problems))
    if calendar_years is None:
        today = datetime.now(tz=UTC).date()
        calendar_years = (today.year, today.year + 1)
    users = business_day_users([j for j, _ in journeys], policy)
    warn_once(calendar_gaps(calendar, users, calendar_years, journeys_dir))
    journey_specs = tuple(j for j, _ in journeys)
    return Config(journey_specs, products, templates, calendar, policy, sources, scenarios, identity, examples, figures)


def load_figures(path: Path) -> Figures:
    """A fitted-figures file on its own (``orchestrator fit`` output), checked, or ConfigError."""
    problems: list[Problem] = []
    if not path.exists():
        raise ConfigError([problem(path, (1, 1), "", "figures file not found")])
    figures = _parse(path, Figures, problems)
    if problems or figures is None:
        raise ConfigError(sorted(problems))
    return figures


def business_day_users(journeys: Sequence[JourneySpec], policy: ContactPolicy) -> list[str]:
    """What counts business days: journeys with a business-day wait, the policy's business_days_only."""
    users = [
        f"journey {j.id}"
        for j in journeys
        if any(isinstance(s, WaitUntilStep) and s.wait_until.business_day for s in j.steps)
    ]
    return [*users, f"{POLICY_FILE} (business_days_only)"] if policy.business_days_only else users


def scenarios_schema() -> str:
    """JSON Schema of ``scenarios.yaml`` for editor completion (committed as schema/scenarios.schema.json)."""
    schema = ScenarioSettings.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "xo-journeys scenario detectors"
    return json.dumps(schema, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def _scenarios(path: Path, problems: list[Problem]) -> ScenarioSettings:
    """``scenarios.yaml``: its shape, then the references between its sections."""
    if not path.exists():
        return ScenarioSettings()
    loaded = _load(path, problems)
    settings = _validate(loaded, ScenarioSettings, problems) if loaded else None
    if settings is None or loaded is None:
        return ScenarioSettings()
    for where, message in scenario_problems(settings):
        problems.append(problem(path, loaded.position_of(where), dotted(where), message))
    return settings


def _examples(journeys_dir: Path, scenarios: ScenarioSettings, problems: list[Problem]) -> IntentExamples:
    """``intent_examples.yaml``: its shape, the intents it names, and examples for every intent with a model."""
    path = journeys_dir / INTENT_EXAMPLES_FILE
    loaded = _load(path, problems) if path.exists() else None
    examples = _validate(loaded, IntentExamples, problems) if loaded else None
    if path.exists() and (loaded is None or examples is None):
        return IntentExamples()  # its own problems are reported: no echo of them in scenarios.yaml
    if loaded is not None and examples is not None:
        for where, message in unknown_intents(scenarios.chat, examples):
            problems.append(problem(path, loaded.position_of(where), dotted(where), message))
    examples = examples or IntentExamples()
    scenarios_path = journeys_dir / SCENARIOS_FILE
    missing = example_problems(scenarios.chat, examples)
    at = load_yaml(scenarios_path) if missing else None
    for where, message in missing:
        problems.append(problem(scenarios_path, at.position_of(where) if at else (1, 1), dotted(where), message))
    return examples


def _products(path: Path, problems: list[Problem]) -> ProductCatalog:
    """``catalog.yaml``: its shape, then the SKUs its relations name."""
    loaded = _load(path, problems) if path.exists() else None
    catalog = _validate(loaded, ProductCatalog, problems) if loaded else None
    if catalog is None or loaded is None:
        return ProductCatalog()
    problems.extend(relation_problems(catalog, loaded))
    return catalog


def _load(path: Path, problems: list[Problem]) -> LoadedYaml | None:
    try:
        loaded = load_yaml(path)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        position = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        problems.append(problem(path, position, "", f"YAML syntax: {getattr(exc, 'problem', None) or exc}"))
        return None
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(problem(path, (1, 1), "", f"cannot read: {exc}"))
        return None
    problems.extend(problem(path, position, "", message) for position, message in loaded.traps)
    return loaded


def _parse(path: Path, model: type[Model], problems: list[Problem]) -> Model | None:
    if not path.exists():
        return None
    loaded = _load(path, problems)
    return _validate(loaded, model, problems) if loaded else None


def _validate(loaded: LoadedYaml, model: type[Model], problems: list[Problem]) -> Model | None:
    if not isinstance(loaded.data, dict):
        kind = type(loaded.data).__name__
        problems.append(problem(loaded.path, (1, 1), "", f"expected a mapping at the top, got {kind}"))
        return None
    try:
        return model.model_validate(loaded.data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        for err in errors:
            if err["type"] == "too_short" and any(
                e["loc"][: len(err["loc"])] == err["loc"] and e is not err for e in errors
            ):
                continue  # "no items left" only echoes the errors of the items themselves
            where = _data_path(loaded.data, err["loc"])
            text = _kind_hint(err, loaded.data, where) + hints.message(err, model)
            problems.append(problem(loaded.path, loaded.position_of(where), dotted(where) or "(top)", text))
    return None


def _kind_hint(err: ErrorDetails, data: Any, where: Path_) -> str:
    """For a step or trigger of no known kind: the kind its unknown key was probably meant to be."""
    kinds = {"step_kind": STEP_KINDS, "trigger_kind": TRIGGER_KINDS}.get(err["type"])
    node = _child_at(data, where)
    if kinds is None or not isinstance(node, dict):
        return ""
    for key in node:
        hint = did_you_mean(str(key), kinds) if key not in (*kinds, "id", "when", "next") else ""
        if hint:
            return f"unknown key {key!r}{hint}: "
    return ""


def _child_at(data: Any, where: Path_) -> Any:
    for part in where:
        data = _child(data, part)
    return data


def _data_path(data: Any, loc: tuple[str | int, ...]) -> Path_:
    """A pydantic location as a path into the data, without the union tags pydantic adds."""
    path: list[str | int] = []
    node = data
    for index, part in enumerate(loc):
        previous = loc[index - 1] if index else None
        if (part in STEP_KINDS and isinstance(previous, int)) or (part in TRIGGER_KINDS and previous == "trigger"):
            continue
        child = _child(node, part)
        node = None if child is _MISSING else child
        path.append(part)
    return tuple(path)


_MISSING = object()


def _child(node: Any, part: str | int) -> Any:
    if isinstance(node, dict):
        return node.get(part, _MISSING)
    if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
        return node[part]
    return _MISSING
