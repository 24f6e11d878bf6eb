"""What a journey step runs with: the context, the effects it accumulates, how it flows on."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any, NamedTuple

from orchestrator.core.effects import Action, Conversion, ScenarioHit, StepFailure, Suppressed
from orchestrator.core.events import Event
from orchestrator.core.journey_log import LogRecord
from orchestrator.core.ports import World
from orchestrator.core.recommend import recommend
from orchestrator.core.state import CustomerState, Instance, Profile, Timer
from orchestrator.core.view import LAZY, LazyDict, builtins, plain
from orchestrator.errors import StepError

WAIT_PREFIX = "wait:"


@dataclass
class Effects:
    """Accumulates what one input causes; local to one ``process`` call."""

    actions: list[Action] = field(default_factory=list)
    hits: list[ScenarioHit] = field(default_factory=list)
    timers_set: dict[str, Timer] = field(default_factory=dict)
    timers_cancelled: set[str] = field(default_factory=set)
    failures: list[StepFailure] = field(default_factory=list)
    suppressed: list[Suppressed] = field(default_factory=list)
    journey_events: list[tuple[str, str, int]] = field(default_factory=list)
    conversions: list[Conversion] = field(default_factory=list)
    log: list[LogRecord] = field(default_factory=list)
    _profile: tuple[Profile, dict[str, Any]] | None = None
    _event: tuple[Event, dict[str, Any]] | None = None

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

    def profile_view(self, profile: Profile, now: datetime) -> dict[str, Any]:
        """The profile as templates and conditions see it, with derived figures; built once per profile."""
        if self._profile is None or self._profile[0] is not profile:
            self._profile = (profile, _view(profile, now))
        return self._profile[1]

    def event_view(self, event: Event) -> dict[str, Any]:
        """The input event as templates and conditions see it; dumped once per input."""
        if self._event is None or self._event[0] is not event:
            self._event = (event, event.model_dump(mode="json"))
        return self._event[1]


@dataclass(frozen=True)
class Ctx:
    """The input being processed and the world it is processed in."""

    world: World
    now: datetime
    event: Event | None
    deadline: datetime | None = None  # a deferred send being retried: the not_after it keeps
    at: datetime | None = None  # the input's own moment: the event's time, the timer's due time

    def moment(self) -> datetime:
        """When the customer's input happened (``now`` when it is not known)."""
        return self.at or self.now


@dataclass(frozen=True)
class Go:
    """Continue at ``step`` (None: the journey completes)."""

    step: str | None


@dataclass(frozen=True)
class Park:
    """The instance waits; the state already holds its timer."""


@dataclass(frozen=True)
class End:
    how: str


Flow = Go | Park | End


def variables(
    state: CustomerState, instance: Instance | None, ctx: Ctx, fx: Effects, scenario: dict[str, Any] | None = None
) -> dict[str, Any]:
    """What templates and conditions see: profile, event, trigger, scenario, journey, customer_id, now,
    and ``recommend(relation, limit)`` over this customer's history (``core.recommend``).

    ``event`` is the input being processed (for a timer: the event that started the
    instance, if any); ``trigger`` is always the event that started the instance.
    """
    event = fx.event_view(ctx.event) if ctx.event else (instance.trigger_event if instance else {})
    if scenario is None:
        scenario = {"name": instance.scenario, **instance.scenario_data} if instance else {}
    journey = {"id": instance.journey_id, "version": instance.version, "variant": instance.variant} if instance else {}
    return {
        "profile": fx.profile_view(state.profile, ctx.now),
        "event": event,
        "trigger": instance.trigger_event if instance else event,
        "scenario": scenario,
        "journey": journey,
        "customer_id": state.customer_id,
        "now": ctx.now.isoformat(),
        "recommend": partial(recommend, state.profile, ctx.world.products),
    }


@dataclass(frozen=True)
class Occurrence:
    """What made a customer enter: a stable key (one instance per key) and the scenario, if any."""

    key: str
    scenario: dict[str, Any] = field(default_factory=dict)


class Site(NamedTuple):
    """Where a condition is evaluated: what the StepFailure of a condition that raised names. A
    plain tuple: most conditions hold or not, and the failure is built only when one raises."""

    customer_id: str
    journey_id: str
    version: int
    step: str
    instance_id: str


def holds(condition: str, scope: dict[str, Any], ctx: Ctx, fx: Effects, site: Site) -> bool:
    """Evaluate a condition; a failure is recorded at ``site`` and counts as false."""
    try:
        return ctx.world.conditions.evaluate(condition, scope)
    except StepError as exc:
        failure = StepFailure(**site._asdict(), reason=str(exc))
        fx.failures.append(failure)
        log_failure(fx, ctx, failure)
        return False


def log_failure(fx: Effects, ctx: Ctx, failure: StepFailure, variant: str | None = None) -> None:
    """The journey-log record of a step failure (a condition that raised counts as one too)."""
    fx.log.append(
        LogRecord(
            at=ctx.now,
            customer_id=failure.customer_id,
            journey=failure.journey_id,
            version=failure.version,
            kind="failed",
            instance=None if failure.instance_id == "-" else failure.instance_id,
            variant=variant,
            step=failure.step,
            reason=failure.reason,
        )
    )


def wait_timer_id(instance: Instance) -> str:
    return f"{WAIT_PREFIX}{instance.id}"


def _view(profile: Profile, now: datetime) -> LazyDict:
    """The profile as JSON-ready values (``view.plain``: times as ISO text, tuples as lists, every
    field) and the derived figures; the long histories converted when read. The other fields
    hold no struct, so ``view.builtins`` converts them whole, at C speed."""
    ready = builtins({name: getattr(profile, name) for name in _READY})
    pending = {name: partial(_field, profile, name) for name in LAZY}
    ready["days_since_last_order"] = _days(now, profile.last_order_at)
    ready["days_since_first_seen"] = _days(now, profile.first_seen_at)
    return LazyDict(ready, pending, _VIEW_ORDER)


def _field(profile: Profile, name: str) -> Any:
    return plain(getattr(profile, name))


_READY = tuple(name for name in Profile.__struct_fields__ if name not in LAZY)
_VIEW_ORDER = (*Profile.__struct_fields__, "days_since_last_order", "days_since_first_seen")


def _days(now: datetime, then: datetime | None) -> int | None:
    return None if then is None else (now - then).days
