"""How customers enter journeys: scenario hits, events, segments, schedules and dates."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from orchestrator.core import journal, machine
from orchestrator.core.effects import ScenarioHit
from orchestrator.core.events import Event, TimerFired
from orchestrator.core.journey_spec import (
    DateTrigger,
    EventTrigger,
    JourneySpec,
    ScenarioTrigger,
    ScheduleTrigger,
    SegmentTrigger,
)
from orchestrator.core.ports import World
from orchestrator.core.runtime import Ctx, Effects, Occurrence, Site, holds, variables
from orchestrator.core.state import CustomerState, Timer

SCHEDULE_PREFIX = "sched:"
DATE_PREFIX = "date:"


def on_hit(state: CustomerState, hit: ScenarioHit, ctx: Ctx, fx: Effects) -> CustomerState:
    scenario = {"name": hit.scenario, **hit.evidence}
    scope = variables(state, None, ctx, fx, scenario)
    for journey in ctx.world.live(ScenarioTrigger, ctx.now):
        trigger = journey.trigger
        assert isinstance(trigger, ScenarioTrigger)  # noqa: S101 - live() filtered by kind
        if trigger.scenario == hit.scenario and _matched(journey, trigger.when, scope, ctx, fx):
            state = machine.enter(state, journey, Occurrence(hit.hit_id, scenario), ctx, fx)
    return state


def on_event(state: CustomerState, event: Event, ctx: Ctx, fx: Effects) -> CustomerState:
    """Event triggers, then segments whose condition turned true with this event."""
    for journey in ctx.world.live(EventTrigger, ctx.now):
        trigger = journey.trigger
        assert isinstance(trigger, EventTrigger)  # noqa: S101 - live() filtered by kind
        if trigger.event != event.type:
            continue  # most events trigger nothing: no scope to build
        if _matched(journey, trigger.when, variables(state, None, ctx, fx), ctx, fx):
            state = machine.enter(state, journey, Occurrence(f"event:{event.id}"), ctx, fx)
    for journey in ctx.world.live(SegmentTrigger, ctx.now):
        trigger = journey.trigger
        assert isinstance(trigger, SegmentTrigger)  # noqa: S101 - live() filtered by kind
        inside = _when(journey, trigger.segment, variables(state, None, ctx, fx), ctx, fx)
        was_inside = state.segments.get(journey.id, False)
        if inside != was_inside:
            state = state.model_copy(update={"segments": {**state.segments, journey.id: inside}})
        if inside and not was_inside:
            state = machine.enter(state, journey, Occurrence(f"segment:{event.id}"), ctx, fx)
    return state


def schedule_timers(state: CustomerState, ctx: Ctx, fx: Effects) -> CustomerState:
    """Keep one timer per date journey at its next occurrence for this customer.

    Schedule journeys keep no timer per customer: their audience is walked at each
    occurrence (``orchestrator.audiences``). A schedule timer an earlier release set is
    cancelled here (it still fires as an occurrence if it comes due first: ``occurrence``).
    """
    for timer_id in [t for t in state.timers if t.startswith(SCHEDULE_PREFIX)]:
        state = fx.cancel_timer(state, timer_id)
    if not ctx.world.live(DateTrigger, ctx.now):
        return state
    tz = ZoneInfo(state.profile.tz)
    for journey in ctx.world.live(DateTrigger, ctx.now):
        state = _date_timer(state, journey, ctx, fx, tz)
    return state


def occurrence(state: CustomerState, fired: TimerFired, now: datetime, world: World) -> Timer | None:
    """A schedule occurrence handed to this customer, as the timer to fire, or None to ignore it.

    Ignored: not due yet; the journey is gone or no longer scheduled; the customer entered it
    at or after this occurrence (a walk resumed after a crash hands a page over again); the
    customer arrived after it; or it is not an occurrence on the customer's own clock (their
    zone changed since the audience index was read: the new zone's walk reaches them).
    The timer's due time is on the customer's clock, as the occurrence key always was.
    """
    journey = world.current(fired.timer_id.removeprefix(SCHEDULE_PREFIX), now)
    if journey is None or not isinstance(journey.trigger, ScheduleTrigger) or world.cron is None:
        return None
    if fired.due_at > now:
        return None
    entered = state.last_entered.get(journey.id)
    first = state.profile.first_seen_at
    if (entered is not None and entered >= fired.due_at) or (first is not None and first > fired.due_at):
        return None
    tz = ZoneInfo(state.profile.tz)
    due = fired.due_at.astimezone(tz)
    if world.cron.next_after(journey.trigger.schedule, due - timedelta(minutes=1), tz) != due:
        return None
    return Timer(id=fired.timer_id, due_at=due)


def on_timer(state: CustomerState, timer: Timer, ctx: Ctx, fx: Effects) -> CustomerState:
    """A schedule occurrence or a date timer fired: enter the journey (a date's next one is set afterwards)."""
    journey_id = timer.id.split(":", 1)[1]
    journey = ctx.world.current(journey_id, ctx.now)
    if journey is None:
        return state
    occurrence = f"{timer.id}:{timer.due_at.isoformat()}"
    if timer.id.startswith(DATE_PREFIX):
        state = state.model_copy(update={"fired": (*state.fired, occurrence)[-100:]})
    return machine.enter(state, journey, Occurrence(occurrence), ctx, fx)


def _date_timer(state: CustomerState, journey: JourneySpec, ctx: Ctx, fx: Effects, tz: ZoneInfo) -> CustomerState:
    assert isinstance(journey.trigger, DateTrigger)  # noqa: S101 - live() filtered by kind
    spec = journey.trigger.date
    timer_id = f"{DATE_PREFIX}{journey.id}"
    base = _as_date(state.profile.attributes.get(spec.attribute))
    due = None
    if base is not None:
        hour, minute = (int(x) for x in spec.at.split(":"))
        due = datetime.combine(base, time(hour, minute), tz) + spec.offset
        while spec.yearly and due <= ctx.now:
            due = _next_year(due)
        if due <= ctx.now or f"{timer_id}:{due.isoformat()}" in state.fired:
            due = None
    current = state.timers.get(timer_id)
    if due is None:
        return fx.cancel_timer(state, timer_id)
    if current is None or current.due_at != due:
        return fx.set_timer(state, Timer(id=timer_id, due_at=due))
    return state


def _next_year(moment: datetime) -> datetime:
    try:
        return moment.replace(year=moment.year + 1)
    except ValueError:  # 29 February
        return moment.replace(year=moment.year + 1, day=28)


def _as_date(value: object) -> date | None:
    if isinstance(value, str):
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


def _when(journey: JourneySpec, condition: str | None, scope: dict[str, Any], ctx: Ctx, fx: Effects) -> bool:
    if condition is None:
        return True
    site = Site(str(scope["customer_id"]), journey.id, journey.version, "trigger", "-")
    return holds(condition, scope, ctx, fx, site)


def _matched(journey: JourneySpec, condition: str | None, scope: dict[str, Any], ctx: Ctx, fx: Effects) -> bool:
    """``_when`` for a trigger that matched this input: a false condition is logged as a refusal."""
    if _when(journey, condition, scope, ctx, fx):
        return True
    journal.refused(fx, ctx, str(scope["customer_id"]), journey, ("trigger.when", str(condition)))
    return False
