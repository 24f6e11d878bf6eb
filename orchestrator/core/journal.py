"""Writing the journey log while a journey runs: small helpers the machine calls.

Each helper appends :class:`~orchestrator.core.journey_log.LogRecord` values to the
effects of the input being processed; they decide nothing.
"""

from __future__ import annotations

from orchestrator.core.effects import Conversion
from orchestrator.core.journey_log import Kind, LogRecord
from orchestrator.core.journey_spec import JourneySpec
from orchestrator.core.runtime import Ctx, Effects
from orchestrator.core.state import Instance

Mark = tuple[int, int]  # how many actions and suppressions the effects held before a step ran


def of_instance(fx: Effects, ctx: Ctx, cid: str, instance: Instance, kind: Kind, **fields: str | None) -> None:
    fx.log.append(
        LogRecord(
            at=ctx.now,
            customer_id=cid,
            journey=instance.journey_id,
            version=instance.version,
            kind=kind,
            instance=instance.id,
            variant=instance.variant,
            **fields,
        )
    )


def refused(fx: Effects, ctx: Ctx, cid: str, journey: JourneySpec, why: tuple[str, str]) -> None:
    """A trigger matched but ``why`` = (the rule, how it refused) kept the customer out."""
    rule, reason = why
    fx.log.append(
        LogRecord(
            at=ctx.now,
            customer_id=cid,
            journey=journey.id,
            version=journey.version,
            kind="entry_refused",
            rule=rule,
            reason=reason,
        )
    )


def mark(fx: Effects) -> Mark:
    return len(fx.actions), len(fx.suppressed)


def after_step(fx: Effects, ctx: Ctx, cid: str, at: tuple[Instance, str, bool], since: Mark) -> None:
    """The step reached (unless it is a deferred send tried again), then what it sent or suppressed."""
    instance, step, fresh = at
    if fresh:
        of_instance(fx, ctx, cid, instance, "step", step=step)
    for action in fx.actions[since[0] :]:
        of_instance(fx, ctx, cid, instance, "sent", step=step, action_id=action.action_id, channel=action.channel)
    for held in fx.suppressed[since[1] :]:
        of_instance(fx, ctx, cid, instance, "suppressed", step=step, channel=held.channel, reason=held.reason)


def goal(fx: Effects, ctx: Ctx, conversion: Conversion) -> None:
    fx.log.append(
        LogRecord(
            at=ctx.now,
            customer_id=conversion.customer_id,
            journey=conversion.journey_id,
            version=conversion.version,
            kind="goal",
            instance=conversion.instance_id,
            variant=conversion.variant,
            reason=f"event {conversion.event_id}",
        )
    )
