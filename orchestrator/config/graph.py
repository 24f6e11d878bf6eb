"""A journey's steps as a graph: edges, reachability, loops without a wait."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from orchestrator.config.yaml_loader import Path_
from orchestrator.core.journey_spec import (
    WAITING_KINDS,
    AnyStep,
    BranchStep,
    ExitStep,
    GotoStep,
    JourneySpec,
    SendStep,
    SplitStep,
    TaskStep,
    WaitForStep,
    step_kind,
)

Edge = tuple[str, str | None, Path_, str]  # (from, to or None for the end, where in the step, label)


def edges(journey: JourneySpec) -> list[Edge]:
    found: list[Edge] = []
    for index, step in enumerate(journey.steps):
        found.extend((step.id, target, (index, *where), label) for target, where, label in _targets(journey, step))
    return found


Target = tuple[str | None, Path_, str]


def _targets(journey: JourneySpec, step: AnyStep) -> list[Target]:
    if isinstance(step, ExitStep):
        return []
    return _KIND_TARGETS.get(type(step), _plain)(step, journey.following(step.id))


def _plain(step: Any, following: str | None) -> list[Target]:
    return [(following, ("next",), "")]


def _branch(step: BranchStep, following: str | None) -> list[Target]:
    cases: list[Target] = [
        (c.next, ("branch", "cases", i, "next"), f"if {c.when}") for i, c in enumerate(step.branch.cases)
    ]
    return [*cases, (step.branch.otherwise, ("branch", "otherwise"), "otherwise")]


def _split(step: SplitStep, following: str | None) -> list[Target]:
    return [(v.next, ("split", name, "next"), f"{name} {v.weight}%") for name, v in step.split.items()]


def _goto(step: GotoStep, following: str | None) -> list[Target]:
    return [(step.goto.step, ("goto", "step"), f"at most {step.goto.max}x"), (following, ("next",), "")]


def _wait_for(step: WaitForStep, following: str | None) -> list[Target]:
    return [
        (following, ("next",), step.wait_for.event),
        (step.wait_for.on_timeout, ("wait_for", "on_timeout"), "timeout"),
    ]


def _task(step: TaskStep, following: str | None) -> list[Target]:
    return [
        (following, ("next",), "completed"),
        (step.task.on_timeout, ("task", "on_timeout"), "timeout"),
        (step.task.on_skipped, ("task", "on_skipped"), "skipped"),
    ]


def _send(step: SendStep, following: str | None) -> list[Target]:
    failed: list[Target] = [(step.send.on_failed, ("send", "on_failed"), "failed")] if step.send.on_failed else []
    return [(following, ("next",), ""), *failed]


_KIND_TARGETS: dict[type, Callable[[Any, str | None], list[Target]]] = {
    SendStep: _send,
    BranchStep: _branch,
    SplitStep: _split,
    GotoStep: _goto,
    WaitForStep: _wait_for,
    TaskStep: _task,
}


def unreachable(journey: JourneySpec) -> list[str]:
    ids = [s.id for s in journey.steps]
    graph = _adjacency(journey)
    seen, todo = {ids[0]}, [ids[0]]
    while todo:
        for target in graph.get(todo.pop(), []):
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return [i for i in ids if i not in seen]


def loops_without_wait(journey: JourneySpec) -> list[str]:
    """Steps that start a cycle on which no step waits (the instance would spin)."""
    waiting = {s.id for s in journey.steps if step_kind(s) in WAITING_KINDS}
    graph = {k: [t for t in v if t not in waiting] for k, v in _adjacency(journey).items() if k not in waiting}
    found: list[str] = []
    state: dict[str, int] = {}

    def visit(node: str) -> None:
        state[node] = 1
        for target in graph.get(node, []):
            if state.get(target) == 1 and target not in found:
                found.append(target)
            elif target not in state:
                visit(target)
        state[node] = 2

    for node in graph:
        if node not in state:
            visit(node)
    return found


def _adjacency(journey: JourneySpec) -> dict[str, list[str]]:
    ids = {s.id for s in journey.steps}
    graph: dict[str, list[str]] = {s.id: [] for s in journey.steps}
    for source, target, _, _ in edges(journey):
        if target is not None and target in ids:
            graph[source].append(target)
    return graph
