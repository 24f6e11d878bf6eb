"""process(state, input, now, world) → Outcome: the one function the engine is built around.

For an event: dedupe (a seen id with other content raises InputError: a conflicting
duplicate) → migrate instances → fold into the profile → detect scenarios
(detectors' timers moved, hits collected) → goals, exits and awaited events of running
journeys → the hits enter the journeys they trigger → event and segment triggers →
schedule and date timers. For a fired timer: the detector that owns it (its hits enter
journeys), a scheduled journey, or the journey instance that was waiting. Pure and
deterministic: the same state, input, ``now`` and world give the same outcome.
"""

from __future__ import annotations

from datetime import datetime

from orchestrator.core import dedupe, limits, machine, staff, triggers
from orchestrator.core.effects import Outcome, ScenarioHit
from orchestrator.core.events import Event, Input
from orchestrator.core.journey_spec import ScenarioTrigger
from orchestrator.core.ports import World
from orchestrator.core.profile import fold
from orchestrator.core.runtime import WAIT_PREFIX, Ctx, Effects
from orchestrator.core.scenarios import detect
from orchestrator.core.scenarios.names import FIRED_WINDOW, ORDER_TYPES, fired_key
from orchestrator.core.scenarios.observe import observations
from orchestrator.core.state import CustomerState, Timer

__all__ = ["FIRED_WINDOW", "process"]


def process(state: CustomerState, inp: Input, now: datetime, world: World) -> Outcome:
    fx = Effects()
    at = inp.time if isinstance(inp, Event) else inp.due_at
    ctx = Ctx(world=world, now=now, event=inp if isinstance(inp, Event) else None, at=at)
    before = state.profile
    if isinstance(inp, Event):
        if dedupe.seen(state, inp.id):
            dedupe.check_duplicate(state, inp)  # InputError when the content differs
            return Outcome(state=state, duplicate=True)  # a redelivery
        if state.forgotten_at is not None and inp.time <= state.forgotten_at:
            return Outcome(state=state, duplicate=True)  # history from before an erasure
        state = _on_event(machine.migrate(state, ctx, fx), inp, ctx, fx)
    else:
        if inp.timer_id.startswith(triggers.SCHEDULE_PREFIX):  # an occurrence walked to its audience
            timer = triggers.occurrence(state, inp, now, world)
        else:
            timer = state.timers.get(inp.timer_id)
        if timer is None or timer.due_at > now:
            return Outcome(state=state, duplicate=True)  # already fired, cancelled or moved later
        state = _on_timer(machine.migrate(state, ctx, fx), timer, ctx, fx)
    changed = isinstance(inp, Event) and inp.type in ORDER_TYPES
    state, limited = limits.bound_state(state)
    return Outcome(
        state=state.model_copy(update={"version": state.version + 1}),
        limited=limited,
        actions=tuple(fx.actions),
        hits=tuple(fx.hits),
        timers_set=tuple(fx.timers_set.values()),
        timers_cancelled=tuple(sorted(fx.timers_cancelled)),
        failures=tuple(fx.failures),
        suppressed=tuple(fx.suppressed),
        journey_events=tuple(fx.journey_events),
        conversions=tuple(fx.conversions),
        observations=observations(before, state.profile) if changed else (),
        log=tuple(fx.log),
    )


def _on_event(state: CustomerState, event: Event, ctx: Ctx, fx: Effects) -> CustomerState:
    before = state.profile
    profile = fold(before, event, ctx.world.products, ctx.world.scenarios)
    state = state.model_copy(update={"profile": profile, "seen_digests": dedupe.remember(state, event)})
    state, hits = detect.on_event(state, before, event, ctx, fx)
    state = machine.on_event(state, event, ctx, fx)
    state = staff.hand_over(state, event, ctx, fx)
    for hit in hits:
        state = _emit(state, hit, ctx, fx)
    state = triggers.on_event(state, event, ctx, fx)
    return triggers.schedule_timers(state, ctx, fx)


def _on_timer(state: CustomerState, timer: Timer, ctx: Ctx, fx: Effects) -> CustomerState:
    state = state.model_copy(update={"timers": {k: v for k, v in state.timers.items() if k != timer.id}})
    if timer.id.startswith(WAIT_PREFIX):
        return machine.resume(state, timer, ctx, fx)
    if timer.id.startswith((triggers.SCHEDULE_PREFIX, triggers.DATE_PREFIX)):
        state = triggers.on_timer(state, timer, ctx, fx)
        return triggers.schedule_timers(state, ctx, fx)
    if not detect.owns(timer.id):
        return state
    state, hits = detect.on_timer(state, timer, ctx, fx)
    for hit in hits:
        state = _emit(state, hit, ctx, fx)
    return state


def _awaited(scenario: str, ctx: Ctx) -> bool:
    return any(getattr(j.trigger, "scenario", None) == scenario for j in ctx.world.live(ScenarioTrigger, ctx.now))


def _emit(state: CustomerState, hit: ScenarioHit, ctx: Ctx, fx: Effects) -> CustomerState:
    """A hit goes out once per occurrence: to ``xo.scenarios`` and into the journeys it triggers.

    A hit that journeys wait for but none took does not start the scenario's cooldown
    (``last_hits``): a gift order the invite journey does not take must not swallow the chat
    line a week later that it would. With no such journey (a backfill) every hit counts.
    """
    key = fired_key(hit)
    if key in state.fired:
        return state
    state = state.model_copy(update={"fired": (*state.fired, key)[-FIRED_WINDOW:]})
    fx.hits.append(hit)
    entered = sum(1 for e in fx.journey_events if e[0] == "entered")
    state = triggers.on_hit(state, hit, ctx, fx)
    taken = sum(1 for e in fx.journey_events if e[0] == "entered") > entered
    if not taken and _awaited(hit.scenario, ctx):
        return state  # a journey waits for this scenario but did not take this hit: no cooldown
    profile = state.profile
    last = profile.last_hits.get(hit.scenario)
    if last is None or hit.at > last:
        profile = profile.model_copy(update={"last_hits": {**profile.last_hits, hit.scenario: hit.at}})
        state = state.model_copy(update={"profile": profile})
    return state
