"""What a journey says, in short lines an operator reads: its trigger and entry, each step
(channel, template, validity, fallback, waits, SLAs), edge labels, goal and exits. Lines are
joined with ``\\n``; each diagram format turns that into its own line break."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from orchestrator.core.durations import format_duration
from orchestrator.core.journey_spec import (
    AnyStep,
    BranchStep,
    DateTrigger,
    ExitStep,
    GotoStep,
    JourneySpec,
    SendStep,
    SplitStep,
    TaskStep,
    UpdateStep,
    WaitForStep,
    WaitStep,
    WaitUntilStep,
)

SEP = "\n"


def goal_text(journey: JourneySpec) -> str | None:
    goal = journey.goal
    if goal is None:
        return None
    return f"goal: {goal.event} within {format_duration(goal.within)}" + (f" if {goal.when}" if goal.when else "")


def exits_text(journey: JourneySpec) -> str | None:
    return f"exit on: {', '.join(journey.exit_on)}" if journey.exit_on else None


def step_text(step: AnyStep) -> str:
    return f"{step.id}: {_detail(step)}" + (f" (if {step.when})" if step.when else "")


def trigger_text(journey: JourneySpec) -> str:
    trigger = journey.trigger
    if isinstance(trigger, DateTrigger):
        spec = trigger.date
        text = f"date: {spec.attribute} {format_duration(spec.offset)} at {spec.at}" + (
            " yearly" if spec.yearly else ""
        )
    else:
        text = ", ".join(f"{k}: {v}" for k, v in trigger.model_dump(exclude_none=True).items())
    if journey.entry.when:
        text += f"{SEP}entry: {journey.entry.when}"
    if journey.status != "live":
        text += f"{SEP}status: {journey.status}"
    if journey.start_at or journey.end_at:
        start = journey.start_at.isoformat() if journey.start_at else "…"
        text += f"{SEP}entries {start} to {journey.end_at.isoformat() if journey.end_at else '…'}"
    return text


def edge_label(journey: JourneySpec, source: str, label: str) -> str:
    if label != "timeout":
        return label
    step = journey.step(source)
    if isinstance(step, WaitForStep):
        return f"timeout {format_duration(step.wait_for.timeout)}"
    if isinstance(step, TaskStep):
        return f"SLA {format_duration(step.task.sla)} passed"
    return label


def _send(step: SendStep) -> str:
    spec = step.send
    text = f"send {spec.channel}{SEP}{spec.template}{SEP}valid {format_duration(spec.expires_after)}"
    if spec.coupon:
        text += f"{SEP}coupon {', '.join(spec.coupon.values())}"
    if spec.points:
        text += f"{SEP}{spec.points} points"
    if spec.fallback:
        text += f"{SEP}else {spec.fallback.channel}{SEP}{spec.fallback.template}"
    return text


def _wait_until(step: WaitUntilStep) -> str:
    spec = step.wait_until
    text = f"wait until {spec.at}" + (" on a business day" if spec.business_day else "")
    return text + (f", at least {format_duration(spec.not_before)}" if spec.not_before else "")


def _task(step: TaskStep) -> str:
    spec = step.task
    return f"task {spec.channel}{SEP}{spec.assignee}{SEP}SLA {format_duration(spec.sla)}{SEP}{spec.template}"


def _update(step: UpdateStep) -> str:
    spec = step.update
    parts = [f"set {k}={v}" for k, v in spec.set.items()]
    parts += [f"+tag {t}" for t in spec.add_tags] + [f"-tag {t}" for t in spec.remove_tags]
    parts += [f"+{spec.points} points"] if spec.points else []
    return "update " + ", ".join(parts)


_DETAILS: dict[type, Callable[[Any], str]] = {
    SendStep: _send,
    WaitStep: lambda s: f"wait {format_duration(s.wait)}",
    WaitUntilStep: _wait_until,
    WaitForStep: lambda s: f"wait for {s.wait_for.event}" + (f" if {s.wait_for.when}" if s.wait_for.when else ""),
    BranchStep: lambda s: "branch",
    SplitStep: lambda s: "split " + " / ".join(f"{k} {v.weight}%" for k, v in s.split.items()),
    UpdateStep: _update,
    TaskStep: _task,
    GotoStep: lambda s: f"back to {s.goto.step}, at most {s.goto.max}×",
    ExitStep: lambda s: "exit",
}


def _detail(step: AnyStep) -> str:
    return _DETAILS[type(step)](step)
