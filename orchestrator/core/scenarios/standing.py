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
from orchestrator.core.scenarios.base import Found, Signal, hit, paid_until
from orchestrator.core.scenarios.names import LIFECYCLE_CHANGED, STANDING_TIMER, VALUE_TIER_CHANGED
from orchestrator.core.state import CustomerState, OrderRecord, Profile, Timer


def on_event(state: CustomerState, sig: Signal) -> Found:
    return _evaluate(state, sig)


def on_timer(state: CustomerState, timer: Timer, sig: Signal) -> Found:
    return _evaluate(state, sig)


def crossing_of(timer: Timer) -> datetime:
    return datetime.fromisoformat(timer.data["at"]) if "at" in timer.data else timer.due_at


def _evaluate(state: CustomerState, sig: Signal) -> Found:
    """Both detectors read the same paid orders and only then is the profile copied (once)."""
    paid = paid_until(state.profile, sig.as_of)
    moments: list[datetime] = []
    changes: dict[str, Any] = {}
    hits = [*_lifecycle(state, sig, paid, moments, changes), *_value_tier(state, sig, paid, moments, changes)]
    if changes:
        state = state.model_copy(update={"profile": state.profile.model_copy(update=changes)})
    return _reschedule(state, sig, moments), hits


def _lifecycle(
    state: CustomerState, sig: Signal, paid: list[OrderRecord], moments: list[datetime], changes: dict[str, Any]
) -> list[ScenarioHit]:
    settings = sig.settings.lifecycle
    profile = state.profile
    if settings is None:
        _change(profile, changes, lifecycle=lifecycle.legacy_stage(profile))
        return []
    standing = lifecycle.evaluate(profile, sig.as_of, settings, sig.world, paid)
    moments.extend(standing.crossings())
    old = profile.lifecycle
    _change(profile, changes, lifecycle=standing.stage, churn_risk=standing.churn_risk)
    if standing.stage == old or _premature(state, sig, old, standing.stage):
        return []
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
    return [hit(LIFECYCLE_CHANGED, state, occurrence, sig.at, evidence)]


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


def _value_tier(
    state: CustomerState, sig: Signal, paid: list[OrderRecord], moments: list[datetime], changes: dict[str, Any]
) -> list[ScenarioHit]:
    settings = sig.settings.value_tier
    if settings is None:
        return []
    profile = state.profile
    ranking = value_tier.evaluate(profile, sig.as_of, settings, sig.world.population, paid)
    if ranking is None:
        return []
    moments.extend(value_tier.crossings(profile, sig.as_of, settings, paid))
    old = profile.value_tier or value_tier.lowest(settings)
    figures = ranking.figures()
    _change(profile, changes, value_tier=ranking.tier, rfm=figures)
    if ranking.tier == old:
        return []
    evidence = {"rule": f"R + F + M scores by {ranking.method}", "from": old, "to": ranking.tier, **figures}
    occurrence = f"{old}>{ranking.tier}:{sig.at.isoformat()}"
    return [hit(VALUE_TIER_CHANGED, state, occurrence, sig.at, evidence)]


def _reschedule(state: CustomerState, sig: Signal, moments: list[datetime]) -> CustomerState:
    ahead = [m for m in moments if m > sig.as_of]
    if not ahead:
        return sig.fx.cancel_timer(state, STANDING_TIMER)
    crossing = min(ahead)
    grace = sig.settings.lifecycle.grace if sig.settings.lifecycle else timedelta(days=1)
    due, data = crossing + grace, {"at": crossing.isoformat()}
    current = state.timers.get(STANDING_TIMER)
    if current is not None and current.due_at == due and current.data == data:
        return state  # the same timer (a re-evaluation that moved nothing): not set again
    return sig.fx.set_timer(state, Timer(id=STANDING_TIMER, due_at=due, data=data))


def _change(profile: Profile, changes: dict[str, Any], **values: Any) -> None:
    """Add ``values`` to the profile's changes unless all of them are what it holds already
    (then the same objects are kept: templates' profile view is cached by identity)."""
    if any(getattr(profile, k) != v for k, v in values.items()):
        changes.update(values)
