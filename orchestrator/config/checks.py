"""Pass two of validation: what a schema cannot see (references, graph, channels, event types,
conditions, templates)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from orchestrator.config import cron, graph
from orchestrator.config.content import ContentCheck
from orchestrator.config.events import did_you_mean, unknown_event
from orchestrator.config.problems import Problem, dotted, problem
from orchestrator.config.vocabulary import Known
from orchestrator.config.yaml_loader import LoadedYaml, Path_
from orchestrator.core.journey_spec import (
    CHANNELS,
    AnyStep,
    EventTrigger,
    JourneySpec,
    ScenarioTrigger,
    ScheduleTrigger,
    SendStep,
    SplitStep,
    TaskStep,
    WaitForStep,
)
from orchestrator.core.scenario_spec import ScenarioSettings
from orchestrator.core.scenarios import SCENARIOS
from orchestrator.templating import Templates

Report = Callable[[Path_, str], None]
SEND_CHANNELS = CHANNELS - {"task"}  # the task channel is written by task steps only

__all__ = ["check_journey", "check_scenario_enabled", "dotted"]


def check_journey(journey: JourneySpec, loaded: LoadedYaml, templates: Templates, known: Known) -> list[Problem]:
    problems: list[Problem] = []

    def report(where: Path_, message: str) -> None:
        problems.append(problem(loaded.path, loaded.position_of(where), dotted(where), message))

    _check_trigger(journey, report)
    for where, name in event_types(journey):
        message = unknown_event(name, known.events, known.scenarios, known.events_file)
        if message:
            report(where, message)
    _check_steps(journey, report)
    ids = [s.id for s in journey.steps]
    if len(set(ids)) == len(ids):  # the graph is only meaningful with unique ids
        _check_graph(journey, report)
    problems.extend(ContentCheck(journey, loaded, templates, known).run())
    if journey.migrate and journey.migrate.from_version >= journey.version:
        report(("migrate", "from_version"), f"must be older than version {journey.version}")
    for old, new in journey.migrate.steps.items() if journey.migrate else []:
        if new not in {s.id for s in journey.steps}:
            report(("migrate", "steps", old), f"no step with id {new!r} in version {journey.version}")
    return problems


def _check_trigger(journey: JourneySpec, report: Report) -> None:
    trigger = journey.trigger
    if isinstance(trigger, ScheduleTrigger):
        wrong = cron.problem(trigger.schedule)
        if wrong:
            report(("trigger", "schedule"), wrong)
    if isinstance(trigger, ScenarioTrigger) and trigger.scenario not in SCENARIOS:
        report(
            ("trigger", "scenario"),
            f"unknown scenario {trigger.scenario!r}{did_you_mean(trigger.scenario, SCENARIOS)}; "
            f"known: {', '.join(sorted(SCENARIOS))}",
        )


def event_types(journey: JourneySpec) -> Iterator[tuple[Path_, str]]:
    """Every event type the journey waits for, by where it is written."""
    if isinstance(journey.trigger, EventTrigger):
        yield ("trigger", "event"), journey.trigger.event
    if journey.goal:
        yield ("goal", "event"), journey.goal.event
    for index, name in enumerate(journey.exit_on):
        yield ("exit_on", index), name
    for index, step in enumerate(journey.steps):
        if isinstance(step, WaitForStep):
            yield ("steps", index, "wait_for", "event"), step.wait_for.event


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
    "nps_promoter": "surveys",
    "nps_passive": "surveys",
    "nps_detractor": "surveys",
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
                report(
                    ("steps", index, *where),
                    f"unknown channel {channel!r}{did_you_mean(channel, SEND_CHANNELS)}; known: {known}",
                )
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
