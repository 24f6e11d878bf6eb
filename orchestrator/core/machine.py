"""Journey execution: entering, running steps until a wait or the end, resuming, exiting."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import datetime

from orchestrator.core import journal
from orchestrator.core.effects import Conversion, StepFailure
from orchestrator.core.events import Event
from orchestrator.core.journey_spec import JourneySpec, ScheduleTrigger, SendStep, TaskStep, WaitForStep
from orchestrator.core.runtime import (
    Ctx,
    Effects,
    End,
    Occurrence,
    Park,
    Site,
    holds,
    log_failure,
    variables,
    wait_timer_id,
)
from orchestrator.core.state import Attribution, CustomerState, Instance, Timer
from orchestrator.core.steps import EXECUTORS, Run, deadline_of
from orchestrator.errors import StepError

MAX_STEPS_PER_INPUT = 100  # a guard; validation rejects loops without a wait
ATTRIBUTED = frozenset({"completed", "holdout", "timed_out", "skipped"})  # ends after which a goal still counts
ATTRIBUTION_WINDOW = 20


def instance_id(journey: JourneySpec, occurrence: str) -> str:
    """Unique within one customer's state; actions add the customer id to it."""
    digest = hashlib.sha1(f"{journey.id}:{journey.version}:{occurrence}".encode(), usedforsecurity=False)
    return f"i{digest.hexdigest()[:12]}"


def enter(state: CustomerState, journey: JourneySpec, occurrence: Occurrence, ctx: Ctx, fx: Effects) -> CustomerState:
    """Start an instance for ``occurrence`` unless the entry rules say no."""
    scenario = occurrence.scenario
    refusal = _may_enter(state, journey, ctx)
    if refusal is not None:
        journal.refused(fx, ctx, state.customer_id, journey, refusal)
        return state
    condition = journey.entry.when
    site = Site(state.customer_id, journey.id, journey.version, "entry", "-")
    if condition and not holds(condition, variables(state, None, ctx, fx, scenario), ctx, fx, site):
        if not isinstance(journey.trigger, ScheduleTrigger):  # a schedule asks everyone: no is not news
            journal.refused(fx, ctx, state.customer_id, journey, ("entry.when", condition))
        return state
    iid = instance_id(journey, occurrence.key)
    if iid in state.instances:
        return state  # this occurrence already started an instance
    name = scenario.get("name")
    instance = Instance(
        id=iid,
        journey_id=journey.id,
        version=journey.version,
        step=None,
        entered_at=ctx.now,
        scenario=str(name) if name else None,
        scenario_data={k: v for k, v in scenario.items() if k != "name"},
        trigger_event=ctx.event.model_dump(mode="json") if ctx.event else {},
    )
    fx.journey_events.append(("entered", journey.id, journey.version))
    journal.of_instance(fx, ctx, state.customer_id, instance, "entered")
    state = state.model_copy(update={"last_entered": {**state.last_entered, journey.id: ctx.now}})
    return run(state, instance, journey.steps[0].id, ctx, fx)


def _may_enter(state: CustomerState, journey: JourneySpec, ctx: Ctx) -> tuple[str, str] | None:
    """None when the entry rules allow a new instance, else (the rule, how it refused)."""
    closed = _closed(journey, ctx)
    if closed is not None:
        return closed
    active = sum(1 for i in state.instances.values() if i.journey_id == journey.id)
    if active >= journey.entry.max_instances:
        return "entry.max_instances", f"{active} running, at most {journey.entry.max_instances}"
    last = state.entered(journey.id)
    reentry = journey.entry.reentry
    if last is None or reentry == "always":
        return None
    if reentry == "never":
        return "entry.reentry", f"never: entered at {last.isoformat()}"
    if ctx.now - last >= reentry.cooldown:
        return None
    again = last + reentry.cooldown
    return "entry.reentry", f"cooldown: entered at {last.isoformat()}, again from {again.isoformat()}"


def _closed(journey: JourneySpec, ctx: Ctx) -> tuple[str, str] | None:
    """Why the journey takes no entries now (its status, its window), or None.

    The window is judged at the customer's moment: the event's time (a store upload that
    arrives late still counts when it happened), a timer's due time; a replay agrees with a dry run.
    """
    if journey.takes_entries(ctx.moment()):
        return None
    if journey.status != "live":
        return "status", journey.status
    start, end_ = (t.isoformat() if t else "…" for t in (journey.start_at, journey.end_at))
    return "window", f"entries from {start} to {end_}"


def run(state: CustomerState, instance: Instance, step_id: str | None, ctx: Ctx, fx: Effects) -> CustomerState:
    """Execute steps from ``step_id`` until one waits or the journey ends."""
    journey = ctx.world.by_version[(instance.journey_id, instance.version)]
    for _ in range(MAX_STEPS_PER_INPUT):
        if step_id is None:
            return end(state, instance, "completed", ctx, fx)
        step = journey.step(step_id)
        retried = instance.deferred and instance.step == step.id
        fresh = not retried  # a retried send is the same visit, and keeps its first deadline
        instance = instance.model_copy(update={"deferred": False}) if retried else instance.visit(step.id)
        since = journal.mark(fx)
        try:
            if step.when and not ctx.world.conditions.evaluate(step.when, variables(state, instance, ctx, fx)):
                step_id = journey.following(step.id)
                continue
            kept = ctx.deadline if retried else None
            state, instance, flow = EXECUTORS[type(step)](Run(state, instance, journey, ctx, fx, kept), step)
        except StepError as exc:
            journal.after_step(fx, ctx, state.customer_id, (instance, step.id, fresh), since)
            return _fail(state, (instance, step.id), str(exc), ctx, fx)
        journal.after_step(fx, ctx, state.customer_id, (instance, step.id, fresh), since)
        if isinstance(flow, Park):
            return _put(state, instance)
        if isinstance(flow, End):
            return end(state, instance, flow.how, ctx, fx)
        step_id = flow.step
    return _fail(state, (instance, str(step_id)), "too many steps without a wait", ctx, fx)


def resume(state: CustomerState, timer: Timer, ctx: Ctx, fx: Effects) -> CustomerState:
    """A waiting step's timer fired: a wait is over, a wait_for or task timed out."""
    instance = state.instances.get(timer.id.removeprefix("wait:"))
    if instance is None or instance.step is None:
        return state
    journey = ctx.world.by_version.get((instance.journey_id, instance.version))
    if journey is None:  # the version was retired; nothing left to run
        return end(state, instance, "retired", ctx, fx)
    if journey.status == "stopped":
        return end(state, instance, "stopped", ctx, fx)
    step = journey.step(instance.step)
    if instance.deferred:
        return run(state, instance, step.id, replace(ctx, deadline=deadline_of(timer)), fx)
    if isinstance(step, WaitForStep | TaskStep):
        target = step.wait_for.on_timeout if isinstance(step, WaitForStep) else step.task.on_timeout
        return run(state, instance, target, ctx, fx) if target else end(state, instance, "timed_out", ctx, fx)
    return run(state, instance, journey.following(step.id), ctx, fx)


def on_event(state: CustomerState, event: Event, ctx: Ctx, fx: Effects) -> CustomerState:
    """Goals and exit events end instances; awaited events and task reports move them on."""
    for instance in list(state.instances.values()):
        journey = ctx.world.by_version.get((instance.journey_id, instance.version))
        if journey is None:
            continue
        if journey.status == "stopped":
            state = end(state, instance, "stopped", ctx, fx)
            continue
        goal = journey.goal
        if (
            goal
            and event.type == goal.event
            and started(instance) <= event.time
            and event.time - instance.entered_at <= goal.within
            and (goal.when is None or _evaluate(state, instance, goal.when, ctx, fx))
        ):
            fx.conversions.append(_conversion(state, instance, event))
            journal.goal(fx, ctx, fx.conversions[-1])
            state = end(state, instance, "goal", ctx, fx)
        elif event.type in journey.exit_on:
            state = end(state, instance, "exited", ctx, fx)
        elif instance.step is not None:
            state = _awaited(state, instance, journey, ctx, fx)
    return _attributed(state, event, ctx, fx)


def started(instance: Instance) -> datetime:
    """When the instance started in event time: its trigger event's time, or entry if earlier.

    A goal event dated before this (a store order uploaded late) happened before the journey
    could have caused it, so it is not the journey's conversion.
    """
    when = instance.trigger_event.get("time")
    trigger = datetime.fromisoformat(when) if isinstance(when, str) else None
    return instance.entered_at if trigger is None or trigger > instance.entered_at else trigger


def _attributed(state: CustomerState, event: Event, ctx: Ctx, fx: Effects) -> CustomerState:
    """A goal reached after the instance ended (a holdout, a completed path) still converts, once."""
    kept = []
    for item in state.attribution:
        journey = ctx.world.by_version.get((item.journey_id, item.version))
        goal = journey.goal if journey else None
        if goal is None or item.until < event.time:
            continue  # the window closed
        if event.time < item.until - goal.within:
            kept.append(item)  # dated before the instance started (a late upload): not its goal
            continue
        if event.type == goal.event and (goal.when is None or _goal_holds(state, goal.when, item, ctx, fx)):
            fx.conversions.append(_conversion(state, item, event))
            journal.goal(fx, ctx, fx.conversions[-1])
            continue
        kept.append(item)
    return state.model_copy(update={"attribution": tuple(kept)}) if len(kept) != len(state.attribution) else state


def _goal_holds(state: CustomerState, condition: str, item: Attribution, ctx: Ctx, fx: Effects) -> bool:
    site = Site(state.customer_id, item.journey_id, item.version, "goal", item.instance_id)
    return holds(condition, variables(state, None, ctx, fx), ctx, fx, site)


def _conversion(state: CustomerState, source: Instance | Attribution, event: Event) -> Conversion:
    instance_id = source.id if isinstance(source, Instance) else source.instance_id
    return Conversion(
        customer_id=state.customer_id,
        journey_id=source.journey_id,
        version=source.version,
        variant=source.variant,
        instance_id=instance_id,
        event_id=event.id,
    )


def _failed_send(instance: Instance, journey: JourneySpec, event: Event) -> str | None:
    """The ``on_failed`` step of this instance's send that a ``message.failed`` receipt names."""
    action = event.data.get("action_id")
    own = f"{instance.journey_id}:{instance.version}:{instance.id}:"
    if event.type != "message.failed" or not isinstance(action, str) or not action.startswith(own):
        return None
    step_id = action.removeprefix(own).split(":", 1)[0].split("#", 1)[0]  # step ids hold no ':' or '#'
    step = next((s for s in journey.steps if s.id == step_id), None)
    return step.send.on_failed if isinstance(step, SendStep) else None


def _awaited(state: CustomerState, instance: Instance, journey: JourneySpec, ctx: Ctx, fx: Effects) -> CustomerState:
    event = ctx.event
    assert event is not None  # noqa: S101 - called for events only
    failed = _failed_send(instance, journey, event)
    if failed is not None:  # the channel gave up on one of this instance's sends: its on_failed path runs
        return _move_on(state, instance, failed, ctx, fx)
    step = journey.step(str(instance.step))
    target: str | None
    if isinstance(step, WaitForStep):
        spec = step.wait_for
        if event.type != spec.event or (spec.when and not _evaluate(state, instance, spec.when, ctx, fx)):
            return state
        target = journey.following(step.id)
    elif isinstance(step, TaskStep) and event.data.get("action_id") == instance.task:
        if event.type == "task.completed":
            target = journey.following(step.id)
        elif event.type == "task.skipped":
            target = step.task.on_skipped
            if target is None:
                return end(state, instance, "skipped", ctx, fx)
        else:
            return state
    else:
        return state
    return _move_on(state, instance, target, ctx, fx)


def _move_on(state: CustomerState, instance: Instance, target: str | None, ctx: Ctx, fx: Effects) -> CustomerState:
    state = fx.cancel_timer(state, wait_timer_id(instance))
    return run(state, instance.model_copy(update={"task": None}), target, ctx, fx)


def _evaluate(state: CustomerState, instance: Instance, condition: str, ctx: Ctx, fx: Effects) -> bool:
    site = Site(state.customer_id, instance.journey_id, instance.version, str(instance.step), instance.id)
    return holds(condition, variables(state, instance, ctx, fx), ctx, fx, site)


def migrate(state: CustomerState, ctx: Ctx, fx: Effects) -> CustomerState:
    """Move waiting instances to the version in force that declares a mapping for their step."""
    for instance in list(state.instances.values()):
        newest = ctx.world.current(instance.journey_id, ctx.now)
        plan = newest.migrate if newest else None
        if newest is None or plan is None or plan.from_version != instance.version:
            continue
        target = plan.steps.get(str(instance.step))
        if target is None:
            continue
        fx.journey_events.append(("migrated", newest.id, newest.version))
        state = _put(state, instance.model_copy(update={"version": newest.version, "step": target}))
    return state


def end(state: CustomerState, instance: Instance, how: str, ctx: Ctx, fx: Effects) -> CustomerState:
    fx.journey_events.append((how, instance.journey_id, instance.version))
    journal.of_instance(fx, ctx, state.customer_id, instance, "exited", reason=how)
    journey = ctx.world.by_version.get((instance.journey_id, instance.version))
    if journey is not None and journey.goal is not None and how in ATTRIBUTED:
        until = instance.entered_at + journey.goal.within
        if until > ctx.now:
            kept = Attribution(
                journey_id=instance.journey_id,
                version=instance.version,
                variant=instance.variant,
                instance_id=instance.id,
                until=until,
            )
            state = state.model_copy(update={"attribution": (*state.attribution, kept)[-ATTRIBUTION_WINDOW:]})
    state = fx.cancel_timer(state, wait_timer_id(instance))
    return state.model_copy(update={"instances": {k: v for k, v in state.instances.items() if k != instance.id}})


def _fail(state: CustomerState, at: tuple[Instance, str], reason: str, ctx: Ctx, fx: Effects) -> CustomerState:
    instance, step = at
    failure = StepFailure(
        customer_id=state.customer_id,
        journey_id=instance.journey_id,
        version=instance.version,
        step=step,
        instance_id=instance.id,
        reason=reason,
    )
    fx.failures.append(failure)
    log_failure(fx, ctx, failure, instance.variant)
    return end(state, instance, "failed", ctx, fx)


def _put(state: CustomerState, instance: Instance) -> CustomerState:
    return state.model_copy(update={"instances": {**state.instances, instance.id: instance}})
