"""One small function per step kind: (state, instance, step, journey, ctx, fx) → (state, instance, flow)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from orchestrator.core import policy
from orchestrator.core.calendar import next_local_time
from orchestrator.core.effects import Action, JourneyRef, Suppressed, action_id
from orchestrator.core.journey_spec import (
    AnyStep,
    BranchStep,
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
from orchestrator.core.runtime import Ctx, Effects, End, Flow, Go, Park, variables, wait_timer_id
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
    "task": "member_id",
}
# Channels whose messages go out in a staff member's name (the WeCom contact's owner).
STAFF_CHANNELS = frozenset({"wecom_private", "wecom_group", "task"})
Result = tuple[CustomerState, Instance, Flow]
EXPIRED = "expired"  # a deferred send that could not go out before its not_after: dropped
NOT_AFTER = "not_after"  # a deferred send's timer data: the deadline it keeps


@dataclass(frozen=True)
class Run:
    """One step's inputs: the customer, the instance, its journey, the input being processed."""

    state: CustomerState
    inst: Instance
    journey: JourneySpec
    ctx: Ctx
    fx: Effects
    deadline: datetime | None = None  # a deferred send's original not_after

    def scope(self) -> dict[str, Any]:
        return variables(self.state, self.inst, self.ctx, self.fx)

    def go_on(self, step: AnyStep, state: CustomerState | None = None, inst: Instance | None = None) -> Result:
        return (state or self.state), (inst or self.inst), Go(self.journey.following(step.id))


Executor = Callable[[Run, Any], Result]


def send(r: Run, step: SendStep) -> Result:
    """Send, refuse, or defer to the next allowed moment; a deferred send keeps its first
    ``not_after``, and one that cannot go out before it is dropped as ``expired``."""
    spec = step.send
    channel, template = spec.channel, spec.template
    deadline = r.deadline or r.ctx.now + spec.expires_after
    decision = _decide(r, channel)
    if decision.reason not in (None, "quiet_hours") and spec.fallback is not None:
        r.fx.suppressed.append(_suppressed(r, step, channel, f"{decision.reason}, fell back"))
        channel, template = spec.fallback.channel, spec.fallback.template
        decision = _decide(r, channel)
    if decision.reason == "no_recipient":
        raise StepError(f"step {step.id}: no {RECIPIENT_KEY[channel]} known for channel {channel}")
    if (decision.until is not None and decision.until >= deadline) or r.ctx.now >= deadline:
        r.fx.suppressed.append(_suppressed(r, step, channel, EXPIRED))  # never a stale offer
        return r.go_on(step)
    if decision.until is not None:
        r.fx.suppressed.append(_suppressed(r, step, channel, f"{decision.reason}, deferred", decision.until))
        deferred = replace(r, inst=r.inst.model_copy(update={"deferred": True}))
        return _park(deferred, step, decision.until, {NOT_AFTER: deadline.isoformat()})
    if decision.reason is not None:
        r.fx.suppressed.append(_suppressed(r, step, channel, decision.reason))
        return r.go_on(step)
    content: dict[str, Any] = {"text": _render(r, step.id, template)}
    if spec.coupon:
        content["coupon"] = dict(spec.coupon)
    if spec.points:
        content["points"] = spec.points
    r.fx.actions.append(_action(r, step.id, channel, content, deadline))
    return r.go_on(step, state=policy.record_send(r.state, r.journey, channel, r.ctx.now))


def _decide(r: Run, channel: str) -> policy.Decision:
    if not _address(r.state, RECIPIENT_KEY[channel]):
        return policy.Decision("no_recipient")
    return policy.decide(r.state, r.journey, channel, r.ctx.now, r.ctx.world)


def wait(r: Run, step: WaitStep) -> Result:
    return _park(r, step, r.ctx.now + step.wait)


def wait_until(r: Run, step: WaitUntilStep) -> Result:
    spec = step.wait_until
    hour, minute = (int(x) for x in spec.at.split(":"))
    calendar = r.ctx.world.calendar if spec.business_day else None
    due = next_local_time(r.ctx.now + spec.not_before, time(hour, minute), ZoneInfo(r.state.profile.tz), calendar)
    return _park(r, step, due)


def wait_for(r: Run, step: WaitForStep) -> Result:
    return _park(r, step, r.ctx.now + step.wait_for.timeout)


def branch(r: Run, step: BranchStep) -> Result:
    scope = r.scope()
    for case in step.branch.cases:
        if r.ctx.world.conditions.evaluate(case.when, scope):
            return r.state, r.inst, Go(case.next)
    return r.state, r.inst, Go(step.branch.otherwise)


def split(r: Run, step: SplitStep) -> Result:
    name = assign_variant(r.journey.id, step.id, r.state.customer_id, {k: v.weight for k, v in step.split.items()})
    target = step.split[name].next
    return r.state, r.inst.model_copy(update={"variant": name}), (Go(target) if target else End("holdout"))


def update(r: Run, step: UpdateStep) -> Result:
    spec, profile = step.update, r.state.profile
    tags = [t for t in profile.tags if t not in spec.remove_tags]
    tags += [t for t in spec.add_tags if t not in tags]
    changes = {
        "attributes": {**profile.attributes, **spec.set},
        "tags": tuple(tags),
        "points": profile.points + spec.points,
    }
    return r.go_on(step, state=r.state.model_copy(update={"profile": profile.model_copy(update=changes)}))


def task(r: Run, step: TaskStep) -> Result:
    spec = step.task
    content = {
        "text": _render(r, step.id, spec.template),
        "kind": spec.channel,
        "assignee": spec.assignee,
        "due_at": (r.ctx.now + spec.sla).isoformat(),
    }
    action = _action(r, step.id, "task", content, r.ctx.now + spec.sla)
    r.fx.actions.append(action)
    r = replace(r, inst=r.inst.model_copy(update={"task": action.action_id}))
    return _park(r, step, r.ctx.now + spec.sla)


def goto(r: Run, step: GotoStep) -> Result:
    if r.inst.visits.get(step.id, 0) > step.goto.max:
        return r.go_on(step)
    return r.state, r.inst, Go(step.goto.step)


def exit_(r: Run, step: ExitStep) -> Result:
    return r.state, r.inst, End("exited")


EXECUTORS: dict[type[AnyStep], Executor] = {
    SendStep: send,
    WaitStep: wait,
    WaitUntilStep: wait_until,
    WaitForStep: wait_for,
    BranchStep: branch,
    SplitStep: split,
    UpdateStep: update,
    TaskStep: task,
    GotoStep: goto,
    ExitStep: exit_,
}


def assign_variant(journey_id: str, step_id: str, customer_id: str, weights: dict[str, int]) -> str:
    """Deterministic A/B/n assignment: a stable hash of journey, step and customer into 0-99."""
    digest = hashlib.sha256(f"{journey_id}:{step_id}:{customer_id}".encode()).digest()
    bucket = int.from_bytes(digest[:8], "big") % 100
    for name, weight in weights.items():
        if bucket < weight:
            return name
        bucket -= weight
    return list(weights)[-1]  # weights are validated to sum to 100


def _park(r: Run, step: AnyStep, due: datetime, data: dict[str, str] | None = None) -> Result:
    inst = r.inst.model_copy(update={"step": step.id})
    return r.fx.set_timer(r.state, Timer(id=wait_timer_id(inst), due_at=due, data=data or {})), inst, Park()


def deadline_of(timer: Timer) -> datetime | None:
    """The original ``not_after`` a deferred send's timer carries."""
    text = timer.data.get(NOT_AFTER)
    return datetime.fromisoformat(text) if text else None


def _address(state: CustomerState, key: str) -> str | None:
    return state.profile.identity.get(key) or (state.customer_id if key == "member_id" else None)


def _render(r: Run, step_id: str, template: str) -> str:
    scope = r.scope()
    scope["journey"] = {**scope["journey"], "step": step_id, "visit": r.inst.visits.get(step_id, 1)}
    return r.ctx.world.renderer.render(template, scope)


def _action(r: Run, step_id: str, channel: str, content: dict[str, Any], not_after: datetime) -> Action:
    inst, now = r.inst, r.ctx.now
    visit = inst.visits.get(step_id, 1)
    occurrence = step_id if visit <= 1 else f"{step_id}#{visit}"
    return Action(
        action_id=action_id(inst.journey_id, inst.version, inst.id, occurrence, r.state.customer_id),
        channel=channel,
        customer_id=r.state.customer_id,
        to=_recipient(r.state, channel),
        content=content,
        journey=JourneyRef(id=inst.journey_id, version=inst.version, step=step_id, variant=inst.variant),
        scenario=inst.scenario,
        created_at=now,
        not_after=not_after,
    )


def _recipient(state: CustomerState, channel: str) -> dict[str, str]:
    key = RECIPIENT_KEY[channel]
    to = {key: _address(state, key) or ""}
    if channel in STAFF_CHANNELS and state.profile.owner:
        to["staff_id"] = state.profile.owner
    return to


def _suppressed(r: Run, step: AnyStep, channel: str, reason: str, until: datetime | None = None) -> Suppressed:
    return Suppressed(
        customer_id=r.state.customer_id,
        journey_id=r.inst.journey_id,
        version=r.inst.version,
        step=step.id,
        channel=channel,
        reason=reason,
        deferred_until=until,
    )
