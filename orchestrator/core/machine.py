"""Journey execution: entering, running steps until a wait or the end, resuming, exiting."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from orchestrator.core.effects import Action, JourneyRef, ScenarioHit, StepFailure, action_id
from orchestrator.core.events import Event
from orchestrator.core.journey_spec import ExitStep, JourneySpec, SendStep, WaitStep
from orchestrator.core.ports import World
from orchestrator.core.state import CustomerState, Instance, Timer
from orchestrator.errors import StepError

# Which identifier each channel addresses.
RECIPIENT_KEY = {
    "wecom_private": "wecom_external_id",
    "wecom_group": "wecom_external_id",
    "sms": "phone",
    "call": "phone",
    "coupon": "member_id",
    "webhook": "member_id",
}
MAX_STEPS_PER_INPUT = 100  # a guard; validation rejects loops without a wait
WAIT_PREFIX = "wait:"


@dataclass
class Effects:
    """Accumulates what one input causes; local to one ``process`` call."""

    actions: list[Action] = field(default_factory=list)
    hits: list[ScenarioHit] = field(default_factory=list)
    timers_set: dict[str, Timer] = field(default_factory=dict)
    timers_cancelled: set[str] = field(default_factory=set)
    failures: list[StepFailure] = field(default_factory=list)
    journey_events: list[tuple[str, str, int]] = field(default_factory=list)

    def set_timer(self, state: CustomerState, timer: Timer) -> CustomerState:
        self.timers_set[timer.id] = timer
        self.timers_cancelled.discard(timer.id)
        return state.model_copy(update={"timers": {**state.timers, timer.id: timer}})

    def cancel_timer(self, state: CustomerState, timer_id: str) -> CustomerState:
        if timer_id not in state.timers:
            return state
        self.timers_set.pop(timer_id, None)
        self.timers_cancelled.add(timer_id)
        return state.model_copy(update={"timers": {k: v for k, v in state.timers.items() if k != timer_id}})


@dataclass(frozen=True)
class Step:
    """The context a step runs in."""

    world: World
    now: datetime
    event: Event | None


def instance_id(journey: JourneySpec, hit: ScenarioHit) -> str:
    digest = hashlib.sha1(f"{journey.id}:{journey.version}:{hit.hit_id}".encode(), usedforsecurity=False)
    return f"i{digest.hexdigest()[:12]}"


def context(state: CustomerState, instance: Instance | None, ctx: Step, scenario: dict[str, Any]) -> dict[str, Any]:
    journey = {"id": instance.journey_id, "version": instance.version} if instance else {}
    return {
        "profile": state.profile.model_dump(mode="json"),
        "customer_id": state.customer_id,
        "scenario": scenario,
        "journey": journey,
        "event": ctx.event.model_dump(mode="json") if ctx.event else {},
    }


def enter(state: CustomerState, journey: JourneySpec, hit: ScenarioHit, ctx: Step, fx: Effects) -> CustomerState:
    """Start an instance for ``hit`` unless the entry rules say no."""
    if any(i.journey_id == journey.id for i in state.instances.values()):
        return state
    last = state.entered(journey.id)
    cooldown = journey.entry.reentry.cooldown
    if last is not None and cooldown is not None and ctx.now - last < cooldown:
        return state
    scenario = {"name": hit.scenario, **hit.evidence}
    if journey.entry.when:
        try:
            ok = ctx.world.conditions.evaluate(journey.entry.when, context(state, None, ctx, scenario))
        except StepError as exc:
            fx.failures.append(
                StepFailure(
                    journey_id=journey.id, version=journey.version, step="entry", instance_id="-", reason=str(exc)
                )
            )
            return state
        if not ok:
            return state
    instance = Instance(
        id=instance_id(journey, hit),
        journey_id=journey.id,
        version=journey.version,
        step=None,
        entered_at=ctx.now,
        scenario=hit.scenario,
        scenario_data=dict(hit.evidence),
    )
    fx.journey_events.append(("entered", journey.id, journey.version))
    state = state.model_copy(update={"last_entered": {**state.last_entered, journey.id: ctx.now}})
    return run(state, instance, journey.steps[0].id, ctx, fx)


def run(state: CustomerState, instance: Instance, step_id: str | None, ctx: Step, fx: Effects) -> CustomerState:
    """Execute steps from ``step_id`` until one waits or the journey ends."""
    journey = ctx.world.by_version[(instance.journey_id, instance.version)]
    for _ in range(MAX_STEPS_PER_INPUT):
        if step_id is None:
            return end(state, instance, "completed", fx)
        step = journey.step(step_id)
        try:
            if step.when and not ctx.world.conditions.evaluate(step.when, _ctx_for(state, instance, ctx)):
                step_id = journey.following(step_id)
                continue
            if isinstance(step, SendStep):
                fx.actions.append(_action(state, instance, step, ctx))
            elif isinstance(step, WaitStep):
                waiting = instance.model_copy(update={"step": step.id})
                state = _put(state, waiting)
                return fx.set_timer(state, Timer(id=f"{WAIT_PREFIX}{instance.id}", due_at=ctx.now + step.wait))
            elif isinstance(step, ExitStep):
                return end(state, instance, "exited", fx)
        except StepError as exc:
            fx.failures.append(
                StepFailure(
                    journey_id=journey.id,
                    version=journey.version,
                    step=step.id,
                    instance_id=instance.id,
                    reason=str(exc),
                )
            )
            return end(state, instance, "failed", fx)
        step_id = journey.following(step_id)
    fx.failures.append(
        StepFailure(
            journey_id=journey.id,
            version=journey.version,
            step=str(step_id),
            instance_id=instance.id,
            reason="too many steps without a wait",
        )
    )
    return end(state, instance, "failed", fx)


def resume(state: CustomerState, timer: Timer, ctx: Step, fx: Effects) -> CustomerState:
    instance = state.instances.get(timer.id.removeprefix(WAIT_PREFIX))
    if instance is None or instance.step is None:
        return state
    journey = ctx.world.by_version.get((instance.journey_id, instance.version))
    if journey is None:  # the version was retired; nothing left to run
        return end(state, instance, "retired", fx)
    return run(state, instance, journey.following(instance.step), ctx, fx)


def on_event(state: CustomerState, event: Event, ctx: Step, fx: Effects) -> CustomerState:
    """Goals and exit events end the customer's active instances."""
    for instance in list(state.instances.values()):
        journey = ctx.world.by_version.get((instance.journey_id, instance.version))
        if journey is None:
            continue
        goal = journey.goal
        if goal and event.type == goal.event and event.time - instance.entered_at <= goal.within:
            state = end(state, instance, "goal", fx)
        elif event.type in journey.exit_on:
            state = end(state, instance, "exited", fx)
    return state


def end(state: CustomerState, instance: Instance, how: str, fx: Effects) -> CustomerState:
    fx.journey_events.append((how, instance.journey_id, instance.version))
    state = fx.cancel_timer(state, f"{WAIT_PREFIX}{instance.id}")
    return state.model_copy(update={"instances": {k: v for k, v in state.instances.items() if k != instance.id}})


def _put(state: CustomerState, instance: Instance) -> CustomerState:
    return state.model_copy(update={"instances": {**state.instances, instance.id: instance}})


def _ctx_for(state: CustomerState, instance: Instance, ctx: Step) -> dict[str, Any]:
    return context(state, instance, ctx, {"name": instance.scenario, **instance.scenario_data})


def _action(state: CustomerState, instance: Instance, step: SendStep, ctx: Step) -> Action:
    spec = step.send
    key = RECIPIENT_KEY[spec.channel]
    address = state.profile.identity.get(key) or (state.customer_id if key == "member_id" else None)
    if not address:
        raise StepError(f"step {step.id}: no {key} known for channel {spec.channel}")
    variables = _ctx_for(state, instance, ctx)
    variables["journey"]["step"] = step.id
    text = ctx.world.renderer.render(spec.template, variables)
    return Action(
        action_id=action_id(instance.journey_id, instance.version, instance.id, step.id, state.customer_id),
        channel=spec.channel,
        customer_id=state.customer_id,
        to={key: address},
        content={"text": text},
        journey=JourneyRef(id=instance.journey_id, version=instance.version, step=step.id, variant=instance.variant),
        scenario=instance.scenario,
        created_at=ctx.now,
        not_after=ctx.now + spec.expires_after,
    )
