"""A journey as a Mermaid flowchart an operator can review: the trigger and who enters, every
step with what it does (channel, template, duration, SLA), the branches with their
conditions and weights, and the goal and exit events that end an instance at any time.

Node ids of the trigger, goal, exits and end start with a capital letter, so they never
clash with a step id (lowercase by rule).
"""

from __future__ import annotations

from orchestrator.config.describe import SEP, edge_label, exits_text, goal_text, step_text, trigger_text
from orchestrator.config.graph import edges
from orchestrator.core.journey_spec import WAITING_KINDS, AnyStep, JourneySpec, step_kind

START, DONE, GOAL, EXITS = "Start", "Done", "Goal", "Exits"


def mermaid(journey: JourneySpec) -> str:
    lines = ["flowchart TD", f'  {START}(["{_escape(trigger_text(journey))}"]) --> {journey.steps[0].id}']
    for step in journey.steps:
        lines.append(f"  {step.id}{_shape(step)}")
    for source, target, _, label in edges(journey):
        arrow = f'-->|"{_escape(edge_label(journey, source, label))}"|' if label else "-->"
        lines.append(f"  {source} {arrow} {target or DONE}")
    lines.append(f'  {DONE}(["end"])')
    goal, exits = goal_text(journey), exits_text(journey)
    if goal:
        lines.append(f'  {GOAL}{{{{"{_escape(goal)}"}}}} -.->|"converted, at any step"| {DONE}')
    if exits:
        lines.append(f'  {EXITS}{{{{"{_escape(exits)}"}}}} -.->|"exited, at any step"| {DONE}')
    return "\n".join(lines) + "\n"


def _shape(step: AnyStep) -> str:
    kind = step_kind(step)
    detail = _escape(step_text(step))
    if kind in ("branch", "split"):
        return f'{{"{detail}"}}'
    if kind in WAITING_KINDS:
        return f'(["{detail}"])'
    return f'["{detail}"]'


def _escape(text: str) -> str:
    return text.replace('"', "#quot;").replace(SEP, "<br/>")
