"""Run the detectors for one input; ``process`` emits what they find.

For an event (already folded into the profile): match the chat intents once, move the
cycle timers after an order or refund, then ask each detector. For a fired timer: the
detector that owns its prefix. Detectors only read; the caller decides what a hit does.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from orchestrator.core.event_data import ChatMessage
from orchestrator.core.events import Event
from orchestrator.core.runtime import Ctx, Effects
from orchestrator.core.scenarios import cycle, friends, moving, service_due, standing, surveys
from orchestrator.core.scenarios.base import Found, Signal
from orchestrator.core.scenarios.intents import IntentMatch, match_intents
from orchestrator.core.scenarios.names import CHAT, CYCLE_PREFIX, ORDER_TYPES, SERVICE_TIMER, STANDING_TIMER
from orchestrator.core.state import CustomerState, Profile, Timer

Detector = Callable[[CustomerState, Signal], Found]
TimerDetector = Callable[[CustomerState, Timer, Signal], Found]

# In this order: the cycle's chat hit first (it is the most specific reading of a line).
ON_EVENT: tuple[Detector, ...] = (
    cycle.on_chat,
    friends.on_event,
    moving.on_event,
    surveys.on_event,
    service_due.on_event,
    standing.on_event,
)


def on_event(state: CustomerState, before: Profile, event: Event, ctx: Ctx, fx: Effects) -> Found:
    as_of = state.profile.last_event_at or event.time
    sig = Signal(ctx, fx, before, event, at=event.time, as_of=as_of, intents=_intents(event, ctx))
    if event.type in ORDER_TYPES:
        state = cycle.reschedule(state, ctx.world, fx)
    hits = []
    for detector in ON_EVENT:
        state, found = detector(state, sig)
        hits.extend(found)
    return state, hits


def owns(timer_id: str) -> bool:
    return timer_id.startswith(CYCLE_PREFIX) or timer_id in (STANDING_TIMER, SERVICE_TIMER)


def on_timer(state: CustomerState, timer: Timer, ctx: Ctx, fx: Effects) -> Found:
    """A detector's timer fired (the caller already removed it from the state)."""
    at, run = _timer_detector(timer)
    latest = state.profile.last_event_at
    as_of = at if latest is None or latest < at else latest
    sig = Signal(ctx, fx, state.profile, None, at=at, as_of=as_of)
    return run(state, timer, sig)


def _timer_detector(timer: Timer) -> tuple[datetime, TimerDetector]:
    if timer.id == STANDING_TIMER:
        return standing.crossing_of(timer), standing.on_timer
    if timer.id == SERVICE_TIMER:
        return timer.due_at, service_due.on_timer
    return timer.due_at, cycle.on_timer


def _intents(event: Event, ctx: Ctx) -> tuple[IntentMatch, ...]:
    chat = ctx.world.scenarios.chat
    if event.type != CHAT or not chat.intents:
        return ()
    message = ChatMessage.model_validate(event.data)
    if message.sender not in chat.senders:
        return ()
    return match_intents(message.text, chat, ctx.world.tokenizer, models=ctx.world.intent_models)
