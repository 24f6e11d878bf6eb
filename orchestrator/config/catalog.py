"""Load and check everything operators wrote: journeys, the product catalog, templates.

Two passes, both before a worker starts: (1) each file's shape (pydantic, strict YAML);
(2) cross-references: step targets, channels, scenarios, templates and conditions
compile. Every problem is one ``file:line: field: message`` line; any problem is a
ConfigError and the worker refuses to start.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from jinja2 import TemplateNotFound, TemplateSyntaxError
from pydantic import BaseModel, ValidationError

from orchestrator.config.yaml_loader import LoadedYaml, Path_, load_yaml
from orchestrator.core.journey_spec import CHANNELS, STEP_KINDS, JourneySpec, SendStep
from orchestrator.core.products import ProductCatalog
from orchestrator.core.scenarios import SCENARIOS
from orchestrator.errors import ConfigError
from orchestrator.templating import Templates

CATALOG_FILE = "catalog.yaml"
Model = TypeVar("Model", bound=BaseModel)


@dataclass(frozen=True)
class Config:
    journeys: tuple[JourneySpec, ...]
    products: ProductCatalog
    templates: Templates


def load_config(journeys_dir: Path, templates_dir: Path) -> Config:
    """Everything under ``journeys_dir`` and the templates it names, checked, or ConfigError."""
    problems: list[str] = []
    if not journeys_dir.is_dir():
        raise ConfigError([f"{journeys_dir}: journeys folder not found"])
    catalog_path = journeys_dir / CATALOG_FILE
    products = ProductCatalog()
    if catalog_path.exists():
        products = _parse(catalog_path, ProductCatalog, problems) or products
    templates = Templates(templates_dir)
    journeys: list[tuple[JourneySpec, LoadedYaml]] = []
    for path in sorted(journeys_dir.glob("*.yaml")):
        if path.name == CATALOG_FILE:
            continue
        loaded = _load(path, problems)
        journey = _validate(loaded, JourneySpec, problems) if loaded else None
        if journey is not None and loaded is not None:
            journeys.append((journey, loaded))
    seen: dict[tuple[str, int], Path] = {}
    for journey, loaded in journeys:
        key = (journey.id, journey.version)
        if key in seen:
            problems.append(
                f"{loaded.path}:{loaded.line_of(('version',))}: version: "
                f"journey {journey.id} version {journey.version} is also defined in {seen[key]}"
            )
        seen[key] = loaded.path
        problems.extend(check_journey(journey, loaded, templates))
    if problems:
        raise ConfigError(problems)
    return Config(journeys=tuple(j for j, _ in journeys), products=products, templates=templates)


def check_journey(journey: JourneySpec, loaded: LoadedYaml, templates: Templates) -> list[str]:
    """Pass two: what a schema cannot see."""
    problems: list[str] = []

    def report(where: Path_, message: str) -> None:
        problems.append(f"{loaded.path}:{loaded.line_of(where)}: {_dotted(where)}: {message}")

    if journey.trigger.scenario not in SCENARIOS:
        report(
            ("trigger", "scenario"),
            f"unknown scenario {journey.trigger.scenario!r}; known: {', '.join(sorted(SCENARIOS))}",
        )
    ids = [s.id for s in journey.steps]
    for index, step in enumerate(journey.steps):
        if ids.count(step.id) > 1:
            report(("steps", index, "id"), f"step id {step.id!r} is used more than once")
        if step.next is not None and step.next not in ids:
            report(("steps", index, "next"), f"no step with id {step.next!r}")
        if step.when:
            _check_condition(templates, step.when, ("steps", index, "when"), report)
        if isinstance(step, SendStep):
            _check_send(step, ("steps", index, "send"), templates, report)
    if journey.entry.when:
        _check_condition(templates, journey.entry.when, ("entry", "when"), report)
    return problems


def _check_send(step: SendStep, where: Path_, templates: Templates, report: Any) -> None:
    if step.send.channel not in CHANNELS:
        report((*where, "channel"), f"unknown channel {step.send.channel!r}; known: {', '.join(sorted(CHANNELS))}")
    try:
        templates.compile_template(step.send.template)
    except TemplateNotFound:
        report((*where, "template"), f"template {step.send.template!r} not found under {templates.root}")
    except TemplateSyntaxError as exc:
        report((*where, "template"), f"{templates.root / step.send.template}:{exc.lineno}: {exc.message}")


def _check_condition(templates: Templates, expression: str, where: Path_, report: Any) -> None:
    try:
        templates.compile_condition(expression)
    except TemplateSyntaxError as exc:
        report(where, f"condition does not compile: {exc.message}")


def _load(path: Path, problems: list[str]) -> LoadedYaml | None:
    try:
        return load_yaml(path)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        problems.append(f"{path}:{line}: (yaml): {getattr(exc, 'problem', None) or exc}")
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(f"{path}:1: (file): {exc}")
    return None


def _parse(path: Path, model: type[Model], problems: list[str]) -> Model | None:
    loaded = _load(path, problems)
    return _validate(loaded, model, problems) if loaded else None


def _validate(loaded: LoadedYaml, model: type[Model], problems: list[str]) -> Model | None:
    if not isinstance(loaded.data, dict):
        problems.append(f"{loaded.path}:1: (root): expected a mapping, got {type(loaded.data).__name__}")
        return None
    try:
        return model.model_validate(loaded.data)
    except ValidationError as exc:
        for err in exc.errors(include_url=False):
            where = _data_path(loaded.data, err["loc"])
            problems.append(f"{loaded.path}:{loaded.line_of(where)}: {_dotted(where) or '(root)'}: {err['msg']}")
    return None


def _data_path(data: Any, loc: tuple[str | int, ...]) -> Path_:
    """A pydantic location as a path into the data, without the step-union tags."""
    path: list[str | int] = []
    node = data
    for index, part in enumerate(loc):
        if part in STEP_KINDS and index > 0 and isinstance(loc[index - 1], int):
            continue  # the tag pydantic puts after a step's index in a discriminated union
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


def _dotted(where: Path_) -> str:
    text = ""
    for part in where:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text
