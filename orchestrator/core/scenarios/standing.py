"""Where a customer stands: lifecycle stage, churn risk and value tier, kept current over time.

Evaluated after every event (as of the customer's event-time clock) and when the
``life:standing`` timer fires. That timer waits for the next moment time alone would
change something (a dormancy or churn threshold, a recency cut), plus ``grace`` so that a
store order uploaded late still counts; it is then judged as of the crossing, not as of
the moment the timer fired. A change is a ``lifecycle.changed`` / ``value_tier.changed``
hit with ``from`` and ``to``; its occurrence is the new value and the moment it took effect
(the event's own time, or the crossing), so a replay names it the same way. A late order
dated before a dormancy that was already reported puts the customer back where they were
without a hit: in event-time order they never left (an order after the crossing is a return).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from orchestrator.core.effects import ScenarioHit
from orchestrator.core.scenarios import lifecycle, value_tier
from orchestrator.core.scenarios.base import Found, Signal, hit
from orchestrator.core.scenarios.names import LIFECYCLE_CHANGED, STANDING_TIMER, VALUE_TIER_CHANGED
from orchestrator.core.state import CustomerState, Timer


def on_event(state: CustomerState, sig: Signal) -> Found:
    return _evaluate(state, sig)


def on_timer(state: CustomerState, timer: Timer, sig: Signal) -> Found:
    return _evaluate(state, sig)


def crossing_of(timer: Timer) -> datetime:
    return datetime.fromisoformat(timer.data["at"]) if "at" in timer.data else timer.due_at


def _evaluate(state: CustomerState, sig: Signal) -> Found:
    hits: list[ScenarioHit] = []
    moments: list[datetime] = []
    state, found = _lifecycle(state, sig, moments)
    hits.extend(found)
    state, found = _value_tier(state, sig, moments)
    hits.extend(found)
    return _reschedule(state, sig, moments), hits


def _lifecycle(state: CustomerState, sig: Signal, moments: list[datetime]) -> Found:
    settings = sig.settings.lifecycle
    profile = state.profile
    if settings is None:
        stage = lifecycle.legacy_stage(profile)
        return (state if stage == profile.lifecycle else _with(state, lifecycle=stage)), []
    standing = lifecycle.evaluate(profile, sig.as_of, settings, sig.world)
    moments.extend(standing.crossings())
    old = profile.lifecycle
    state = _with(state, lifecycle=standing.stage, churn_risk=standing.churn_risk)
    if standing.stage == old or _premature(state, sig, old, standing.stage):
        return state, []
    evidence: dict[str, Any] = {
        "rule": standing.rule(settings),
        "from": old,
        "to": standing.stage,
        "orders": standing.orders,
        "days_since_last_order": lifecycle.days_since(standing, sig.as_of),
        "rhythm_days": standing.rhythm.days,
        "rhythm_basis": standing.rhythm.basis,
        "churn_risk": standing.churn_risk,
    }
    occurrence = f"{old}>{standing.stage}:{sig.at.isoformat()}"
    return state, [hit(LIFECYCLE_CHANGED, state, occurrence, sig.at, evidence)]


def _premature(state: CustomerState, sig: Signal, old: str, new: str) -> bool:
    """A late order dated before the dormancy (or churn) it now undoes: in event-time order the
    customer never left ``new``, so going back is no change to report (a return is an order
    dated after the crossing)."""
    if sig.event is None or old not in (lifecycle.DORMANT, lifecycle.CHURNED):
        return False
    last = _last_change(state)
    return last is not None and sig.at < last[0] and last[1] == new


def _last_change(state: CustomerState) -> tuple[datetime, str] | None:
    """When the latest reported stage change took effect, and the stage it left (from ``fired``)."""
    found: tuple[datetime, str] | None = None
    for key in state.fired:
        scenario, _, occurrence = key.partition("#")
        if scenario != LIFECYCLE_CHANGED or ">" not in occurrence or ":" not in occurrence:
            continue
        change, _, when = occurrence.partition(":")
        try:
            at = datetime.fromisoformat(when)
        except ValueError:
            continue
        if found is None or at > found[0]:
            found = (at, change.split(">", 1)[0])
    return found


def _value_tier(state: CustomerState, sig: Signal, moments: list[datetime]) -> Found:
    settings = sig.settings.value_tier
    if settings is None:
        return state, []
    ranking = value_tier.evaluate(state.profile, sig.as_of, settings, sig.world.population)
    if ranking is None:
        return state, []
    moments.extend(value_tier.crossings(state.profile, sig.as_of, settings))
    old = state.profile.value_tier or value_tier.lowest(settings)
    state = _with(state, value_tier=ranking.tier, rfm=ranking.figures())
    if ranking.tier == old:
        return state, []
    evidence = {"rule": f"R + F + M scores by {ranking.method}", "from": old, "to": ranking.tier, **ranking.figures()}
    occurrence = f"{old}>{ranking.tier}:{sig.at.isoformat()}"
    return state, [hit(VALUE_TIER_CHANGED, state, occurrence, sig.at, evidence)]


def _reschedule(state: CustomerState, sig: Signal, moments: list[datetime]) -> CustomerState:
    ahead = [m for m in moments if m > sig.as_of]
    if not ahead:
        return sig.fx.cancel_timer(state, STANDING_TIMER)
    crossing = min(ahead)
    grace = sig.settings.lifecycle.grace if sig.settings.lifecycle else timedelta(days=1)
    timer = Timer(id=STANDING_TIMER, due_at=crossing + grace, data={"at": crossing.isoformat()})
    if state.timers.get(STANDING_TIMER) == timer:
        return state
    return sig.fx.set_timer(state, timer)


def _with(state: CustomerState, **changes: Any) -> CustomerState:
    profile = state.profile
    if all(getattr(profile, k) == v for k, v in changes.items()):
        return state  # unchanged: keep the same objects (templates' profile view is cached by identity)
    return state.model_copy(update={"profile": profile.model_copy(update=changes)})
