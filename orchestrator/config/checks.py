"""Pass two of validation: what a schema cannot see (references, graph, channels, templates)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import TemplateNotFound, TemplateSyntaxError

from orchestrator.config import graph
from orchestrator.config.problems import Problem, problem
from orchestrator.config.yaml_loader import LoadedYaml, Path_
from orchestrator.core.journey_spec import (
    CHANNELS,
    AnyStep,
    BranchStep,
    DateTrigger,
    EventTrigger,
    JourneySpec,
    ScenarioTrigger,
    ScheduleTrigger,
    SegmentTrigger,
    SendStep,
    SplitStep,
    TaskStep,
    WaitForStep,
)
from orchestrator.core.scenario_spec import ScenarioSettings
from orchestrator.core.scenarios import SAMPLE_EVIDENCE, SCENARIOS
from orchestrator.core.state import Profile
from orchestrator.errors import StepError
from orchestrator.templating import Templates

Report = Callable[[Path_, str], None]
SAMPLE_NOW = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
SEND_CHANNELS = CHANNELS - {"task"}  # the task channel is written by task steps only


def check_journey(journey: JourneySpec, loaded: LoadedYaml, templates: Templates) -> list[Problem]:
    problems: list[Problem] = []

    def report(where: Path_, message: str) -> None:
        problems.append(problem(loaded.path, loaded.position_of(where), dotted(where), message))

    _check_trigger(journey, report)
    _check_steps(journey, report)
    ids = [s.id for s in journey.steps]
    if len(set(ids)) == len(ids):  # the graph is only meaningful with unique ids
        _check_graph(journey, report)
    for where, expression in _conditions(journey):
        _check_condition(templates, journey, where, expression, report)
    for where, template in _templates(journey):
        _check_template(templates, journey, where, template, report)
    if journey.migrate and journey.migrate.from_version >= journey.version:
        report(("migrate", "from_version"), f"must be older than version {journey.version}")
    for old, new in journey.migrate.steps.items() if journey.migrate else []:
        if new not in {s.id for s in journey.steps}:
            report(("migrate", "steps", old), f"no step with id {new!r} in version {journey.version}")
    return problems


def _check_trigger(journey: JourneySpec, report: Report) -> None:
    trigger = journey.trigger
    if isinstance(trigger, ScenarioTrigger) and trigger.scenario not in SCENARIOS:
        report(("trigger", "scenario"), f"unknown scenario {trigger.scenario!r}; known: {', '.join(sorted(SCENARIOS))}")


# Which section of scenarios.yaml turns each scenario on.
SCENARIO_SECTIONS = {
    "consumption_cycle_ending": "consumption_cycle_ending",
    "buying_for_friends": "buying_for_friends",
    "moving_house": "moving_house",
    "lifecycle.changed": "lifecycle",
    "value_tier.changed": "value_tier",
    "service_due": "service_due",
    "high_effort": "surveys",
    "survey_tagged": "surveys",
}


def check_scenario_enabled(
    journey: JourneySpec, loaded: LoadedYaml, settings: ScenarioSettings, settings_file: Path
) -> list[Problem]:
    """A journey that triggers on a scenario whose detector is off would never start."""
    trigger = journey.trigger
    if not isinstance(trigger, ScenarioTrigger) or trigger.scenario not in SCENARIO_SECTIONS:
        return []
    section = SCENARIO_SECTIONS[trigger.scenario]
    if getattr(settings, section) is not None:
        return []
    message = f"scenario {trigger.scenario!r} is off: add a `{section}:` section to {settings_file}"
    return [problem(loaded.path, loaded.position_of(("trigger", "scenario")), "trigger.scenario", message)]


def _check_steps(journey: JourneySpec, report: Report) -> None:
    ids = [s.id for s in journey.steps]
    for index, step in enumerate(journey.steps):
        if ids.count(step.id) > 1 and ids.index(step.id) != index:
            report(("steps", index, "id"), f"step id {step.id!r} is used more than once")
        for where, channel in _channels(step):
            if channel not in SEND_CHANNELS:
                known = ", ".join(sorted(SEND_CHANNELS))
                report(("steps", index, *where), f"unknown channel {channel!r}; known: {known}")
        if isinstance(step, SplitStep) and sum(v.weight for v in step.split.values()) != 100:
            total = sum(v.weight for v in step.split.values())
            report(("steps", index, "split"), f"variant weights add up to {total}, not 100")


def _check_graph(journey: JourneySpec, report: Report) -> None:
    ids = {s.id for s in journey.steps}
    for _, target, where, _ in graph.edges(journey):
        if target is not None and target not in ids:
            report(("steps", *where), f"no step with id {target!r}")
    index = {s.id: i for i, s in enumerate(journey.steps)}
    for step_id in graph.unreachable(journey):
        report(("steps", index[step_id], "id"), f"step {step_id!r} can never be reached")
    for step_id in graph.loops_without_wait(journey):
        report(("steps", index[step_id], "id"), f"step {step_id!r} is on a loop with no wait step")


def _channels(step: AnyStep) -> Iterator[tuple[Path_, str]]:
    if isinstance(step, SendStep):
        yield ("send", "channel"), step.send.channel
        if step.send.fallback:
            yield ("send", "fallback", "channel"), step.send.fallback.channel
    elif isinstance(step, TaskStep):
        yield ("task", "channel"), step.task.channel


def _conditions(journey: JourneySpec) -> Iterator[tuple[Path_, str]]:
    trigger = journey.trigger
    if isinstance(trigger, ScenarioTrigger | EventTrigger) and trigger.when:
        yield ("trigger", "when"), trigger.when
    if isinstance(trigger, SegmentTrigger):
        yield ("trigger", "segment"), trigger.segment
    if journey.entry.when:
        yield ("entry", "when"), journey.entry.when
    if journey.goal and journey.goal.when:
        yield ("goal", "when"), journey.goal.when
    for index, step in enumerate(journey.steps):
        if step.when:
            yield ("steps", index, "when"), step.when
        if isinstance(step, BranchStep):
            for i, case in enumerate(step.branch.cases):
                yield ("steps", index, "branch", "cases", i, "when"), case.when
        if isinstance(step, WaitForStep) and step.wait_for.when:
            yield ("steps", index, "wait_for", "when"), step.wait_for.when


def _templates(journey: JourneySpec) -> Iterator[tuple[Path_, str]]:
    for index, step in enumerate(journey.steps):
        if isinstance(step, SendStep):
            yield ("steps", index, "send", "template"), step.send.template
            if step.send.fallback:
                yield ("steps", index, "send", "fallback", "template"), step.send.fallback.template
        elif isinstance(step, TaskStep):
            yield ("steps", index, "task", "template"), step.task.template


def _check_condition(templates: Templates, journey: JourneySpec, where: Path_, expression: str, report: Report) -> None:
    try:
        templates.compile_condition(expression)
        # goal and wait_for conditions judge the incoming event, whatever started the journey
        on_event = where[:2] == ("goal", "when") or "wait_for" in where
        templates.evaluate(expression, sample_context(journey, on_event=on_event))
    except TemplateSyntaxError as exc:
        report(where, f"condition does not compile: {exc.message}")
    except StepError as exc:
        report(where, f"fails on the sample profile and event (add values under `sample:`): {exc}")


def _check_template(templates: Templates, journey: JourneySpec, where: Path_, name: str, report: Report) -> None:
    try:
        templates.compile_template(name)
        templates.render(name, sample_context(journey))
    except TemplateNotFound:
        report(where, f"template {name!r} not found under {templates.root}")
    except TemplateSyntaxError as exc:
        report(where, f"{templates.root / name}:{exc.lineno}: {exc.message}")
    except StepError as exc:
        report(where, f"fails to render on the sample profile and event (add values under `sample:`): {exc}")


def sample_context(journey: JourneySpec, on_event: bool = False) -> dict[str, Any]:
    """A plausible customer for dry renders, overridden by the journey's ``sample:``."""
    profile = Profile(
        name="王女士",
        identity={"member_id": "M0001", "phone": "+8613800000000", "wecom_external_id": "wm-0001"},
        orders=2,
        spent=398.0,
        lifecycle="loyal",
        first_seen_at=SAMPLE_NOW,
        last_order_at=SAMPLE_NOW,
    ).model_dump(mode="json")
    profile.update(days_since_last_order=30, days_since_first_seen=200)
    sample = journey.sample
    profile = _merge(profile, sample.profile)
    trigger = journey.trigger
    scenario: dict[str, Any] = {}
    if isinstance(trigger, ScenarioTrigger):
        scenario = {"name": trigger.scenario, **SAMPLE_EVIDENCE.get(trigger.scenario, {})}
    event: dict[str, Any] = {
        "id": "sample",
        "type": trigger.event if isinstance(trigger, EventTrigger) else "sample",
        "time": SAMPLE_NOW.isoformat(),
        "identity": {"member_id": "M0001"},
        "data": {},
    }
    if isinstance(trigger, ScheduleTrigger | DateTrigger) and not on_event:
        event = {}  # entered by a timer: no event (declare one under `sample.event` if a step expects it)
    event = _merge(event, sample.event)
    return {
        "profile": profile,
        "event": event,
        "trigger": event,
        "scenario": _merge(scenario, sample.scenario),
        "journey": {"id": journey.id, "version": journey.version, "variant": None, "step": "sample", "visit": 1},
        "customer_id": "M0001",
        "now": SAMPLE_NOW.isoformat(),
    }


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        merged[key] = (
            _merge(merged[key], value) if isinstance(value, dict) and isinstance(merged.get(key), dict) else value
        )
    return merged


def dotted(where: Path_) -> str:
    text = ""
    for part in where:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text
