"""process(state, input, now, world) → Outcome: the one function the engine is built around.

For an event: dedupe → migrate instances → fold into the profile → reschedule detectors'
timers → goals, exits and awaited events of running journeys → event and segment
triggers → schedule and date timers. For a fired timer: detect the scenario it stands
for and enter the journeys it triggers, enter a scheduled journey, or resume the
journey instance that was waiting. Pure and deterministic: the same state, input,
``now`` and world give the same outcome.
"""

from __future__ import annotations

from datetime import datetime

from orchestrator.core import machine, scenarios, triggers
from orchestrator.core.effects import Outcome
from orchestrator.core.events import Event, Input
from orchestrator.core.ports import World
from orchestrator.core.profile import fold
from orchestrator.core.runtime import WAIT_PREFIX, Ctx, Effects
from orchestrator.core.state import CustomerState, Timer

FIRED_WINDOW = 100  # scenario occurrences remembered so none fires twice
ORDER_TYPES = frozenset({"order.paid", "order.refunded"})  # the types that move cycles


def process(state: CustomerState, inp: Input, now: datetime, world: World) -> Outcome:
    fx = Effects()
    ctx = Ctx(world=world, now=now, event=inp if isinstance(inp, Event) else None)
    if isinstance(inp, Event):
        if inp.id in state.seen:
            return Outcome(state=state, duplicate=True)
        state = _on_event(machine.migrate(state, ctx, fx), inp, ctx, fx)
    else:
        timer = state.timers.get(inp.timer_id)
        if timer is None or timer.due_at > now:
            return Outcome(state=state, duplicate=True)  # already fired, cancelled or moved later
        state = _on_timer(machine.migrate(state, ctx, fx), timer, ctx, fx)
    return Outcome(
        state=state.model_copy(update={"version": state.version + 1}),
        actions=tuple(fx.actions),
        hits=tuple(fx.hits),
        timers_set=tuple(fx.timers_set.values()),
        timers_cancelled=tuple(sorted(fx.timers_cancelled)),
        failures=tuple(fx.failures),
        suppressed=tuple(fx.suppressed),
        journey_events=tuple(fx.journey_events),
    )


def _on_event(state: CustomerState, event: Event, ctx: Ctx, fx: Effects) -> CustomerState:
    profile = fold(state.profile, event, ctx.world.products)
    state = state.model_copy(update={"profile": profile, "seen": state.remember(event.id)})
    if event.type in ORDER_TYPES:
        state = _reschedule_cycles(state, fx)
    state = machine.on_event(state, event, ctx, fx)
    state = triggers.on_event(state, event, ctx, fx)
    return triggers.schedule_timers(state, ctx, fx)


def _reschedule_cycles(state: CustomerState, fx: Effects) -> CustomerState:
    wanted = scenarios.cycle_timers(state.profile)
    for timer_id in [t for t in state.timers if t.startswith(scenarios.CYCLE_PREFIX) and t not in wanted]:
        state = fx.cancel_timer(state, timer_id)
    for timer in wanted.values():
        if timer.data["occurrence"] in state.fired:
            continue
        if state.timers.get(timer.id) != timer:
            state = fx.set_timer(state, timer)
    return state


def _on_timer(state: CustomerState, timer: Timer, ctx: Ctx, fx: Effects) -> CustomerState:
    state = state.model_copy(update={"timers": {k: v for k, v in state.timers.items() if k != timer.id}})
    if timer.id.startswith(WAIT_PREFIX):
        return machine.resume(state, timer, ctx, fx)
    if timer.id.startswith((triggers.SCHEDULE_PREFIX, triggers.DATE_PREFIX)):
        state = triggers.on_timer(state, timer, ctx, fx)
        return triggers.schedule_timers(state, ctx, fx)
    if not timer.id.startswith(scenarios.CYCLE_PREFIX):
        return state
    state = state.model_copy(update={"fired": (*state.fired, timer.data["occurrence"])[-FIRED_WINDOW:]})
    hit = scenarios.cycle_hit(state.customer_id, timer, ctx.now, ctx.world.products)
    if hit is None:
        return state
    fx.hits.append(hit)
    return triggers.on_hit(state, hit, ctx, fx)
