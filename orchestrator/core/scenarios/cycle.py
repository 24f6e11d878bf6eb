"""consumption_cycle_ending (食用周期结束): the product is about to run out.

Per category, run-out is computed from the purchase history in event-time order:

* catalog figure: purchases are replayed as a stock of days, each order adding
  ``qty × days_per_unit`` from the later of its time and the current run-out;
* no figure: last purchase + the customer's own median repurchase interval in the
  category (with ``min_intervals`` intervals or more), else the population's running
  median for it, else the configured seed; with none of these there is no timer.
  With fitted figures (``World.figures``) the interval is the customer's predicted
  median (``core.forecast.next_interval``), and there is no timer when the chance of a
  purchase in the window after the hit is below the fitted ``min_chance``.

The ``cycle:<category>`` timer fires ``lead_days`` before run-out; a later order moves it,
a refund recomputes or cancels it, and each run-out fires at most once. A customer's chat
line saying it is running out fires at once, as the same occurrence when the cycle is
known (its timer is then spent); a line that names no product from a customer who bought
nothing tracked fires nothing.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

from orchestrator.core import forecast
from orchestrator.core.effects import ScenarioHit
from orchestrator.core.ports import World
from orchestrator.core.runtime import Effects
from orchestrator.core.scenario_spec import CycleSettings
from orchestrator.core.scenarios.base import (
    DAY,
    Found,
    Rhythm,
    Signal,
    chat_evidence,
    hit,
    intervals,
    local_day,
    purchase_times,
    rhythm,
)
from orchestrator.core.scenarios.intents import IntentMatch
from orchestrator.core.scenarios.names import CYCLE_ENDING, CYCLE_PREFIX, spent
from orchestrator.core.state import CustomerState, Profile, Purchase, Timer

_RULES = {
    "catalog": "last purchase + qty × days_per_unit - lead_days",
    "own": "last purchase + own median repurchase interval - lead_days",
    "population": "last purchase + population median repurchase interval - lead_days",
    "seed": "last purchase + configured median repurchase interval - lead_days",
    "fitted": "last purchase + predicted median repurchase interval (fitted figures) - lead_days",
}


def cycle_timers(profile: Profile, world: World) -> dict[str, Timer]:
    """The cycle timer each category should have now, from the purchase history."""
    settings = world.scenarios.consumption_cycle_ending
    if settings is None:
        return {}
    by_category: dict[str, list[Purchase]] = {}
    for purchase in profile.purchases:
        if not purchase.refunded:
            by_category.setdefault(purchase.category, []).append(purchase)
    timers = {}
    for category, lines in by_category.items():
        timer = _timer(category, sorted(lines, key=lambda p: p.time), world, settings, profile)
        if timer is not None:
            timers[timer.id] = timer
    return timers


def reschedule(state: CustomerState, world: World, fx: Effects) -> CustomerState:
    """After an order or a refund: set, move or cancel each category's timer."""
    wanted = cycle_timers(state.profile, world)
    for timer_id in [t for t in state.timers if t.startswith(CYCLE_PREFIX) and t not in wanted]:
        state = fx.cancel_timer(state, timer_id)
    for timer in wanted.values():
        if timer.data["occurrence"] in state.fired:
            continue
        if state.timers.get(timer.id) != timer:
            state = fx.set_timer(state, timer)
    return state


def _timer(
    category: str, lines: list[Purchase], world: World, settings: CycleSettings, profile: Profile
) -> Timer | None:
    last = lines[-1]
    interval: float | None = None
    if last.days is not None:
        run_out: datetime | None = None
        for line in (p for p in lines if p.days is not None):
            start = line.time if run_out is None or run_out < line.time else run_out
            run_out = start + timedelta(days=line.days or 0)
        assert run_out is not None  # noqa: S101 - the last line has days
        basis = "catalog"
    else:
        gaps = intervals(p.time for p in lines)
        found = _fitted(gaps, category, world) or rhythm(
            gaps, category, world, (settings.min_intervals, settings.population_min)
        )
        if found is None:
            return None
        interval, basis = found.days, found.basis
        run_out = last.time + timedelta(days=interval)
    lead = last.lead_days if last.lead_days is not None else settings.lead_days
    if basis == "fitted" and not _likely(profile, run_out - timedelta(days=lead), category, world):
        return None
    return Timer(
        id=f"{CYCLE_PREFIX}{category}",
        due_at=run_out - timedelta(days=lead),
        data={
            "category": category,
            "sku": last.sku,
            "product": last.product_name,
            "run_out": run_out.isoformat(),
            "occurrence": f"{category}:{run_out.date().isoformat()}",
            "basis": basis,
            "interval_days": "" if interval is None else str(interval),
            "orders": ",".join(dict.fromkeys(p.order_id for p in lines[-5:])),
        },
    )


def _fitted(gaps: list[float], category: str, world: World) -> Rhythm | None:
    fit = world.figures.interval(category) if world.figures else None
    return Rhythm(forecast.next_interval(gaps, fit), "fitted") if fit else None


def _likely(profile: Profile, due: datetime, category: str, world: World) -> bool:
    """The fitted chance of a purchase in the window after ``due`` reaches ``min_chance``."""
    figures = world.figures
    fit = figures.interval(category) if figures else None
    if figures is None or fit is None or fit.min_chance <= 0:
        return True
    orders = profile.paid_orders()
    moments = purchase_times(o.time for o in orders)
    found = forecast.history(moments, [o.amount for o in orders], due)
    return found is not None and forecast.purchase_chance(found, figures.bgnbd, fit.window_days) >= fit.min_chance


def cycle_hit(customer_id: str, timer: Timer, now: datetime, world: World) -> ScenarioHit | None:
    """The hit for a fired cycle timer, or None when run-out is too far in the past to act on."""
    run_out = datetime.fromisoformat(timer.data["run_out"])
    if now - run_out > timedelta(days=world.products.stale_after_days):
        return None
    days_left = max(0, math.ceil((run_out - now) / DAY))
    basis = timer.data.get("basis", "catalog")
    evidence = _evidence(timer, basis, days_left)
    return ScenarioHit(
        scenario=CYCLE_ENDING, customer_id=customer_id, occurrence=timer.data["occurrence"], at=now, evidence=evidence
    )


def _evidence(timer: Timer, basis: str, days_left: int) -> dict[str, Any]:
    interval = timer.data.get("interval_days")
    return {
        "rule": _RULES.get(basis, _RULES["catalog"]),
        "source": "timer",
        "basis": basis,
        "category": timer.data["category"],
        "sku": timer.data["sku"],
        "product": timer.data["product"],
        "orders": [o for o in timer.data.get("orders", "").split(",") if o],
        "run_out": timer.data["run_out"],
        "days_left": days_left,
        "interval_days": float(interval) if interval else None,
        "phrase": None,
        "text": None,
        "event_id": None,
    }


def on_timer(state: CustomerState, timer: Timer, sig: Signal) -> Found:
    found = cycle_hit(state.customer_id, timer, sig.ctx.now, sig.world)
    if found is None:
        return spent(state, timer.data["occurrence"]), []  # history: not rescheduled by the next order
    return state, [found]


def on_chat(state: CustomerState, sig: Signal) -> Found:
    """ "快吃完了": fire now, as the known cycle's occurrence when there is one."""
    settings = sig.settings.consumption_cycle_ending
    match = sig.intent(settings.chat_intent) if settings else None
    if settings is None or match is None or sig.event is None:
        return state, []
    category = _named_category(match.text, settings) or _latest_category(state.profile)
    if category is None:
        return state, []  # no product named and none bought: there is no "earlier purchase" to speak of
    timer = cycle_timers(state.profile, sig.world).get(f"{CYCLE_PREFIX}{category}")
    stale = timedelta(days=sig.world.products.stale_after_days)
    if timer is not None and datetime.fromisoformat(timer.data["run_out"]) + stale >= sig.at:
        if timer.data["occurrence"] in state.fired:
            return state, []  # this run-out was acted on already
        evidence = {**_evidence(timer, timer.data["basis"], 0), **chat_evidence(match, sig.event)}
        state = sig.fx.cancel_timer(state, timer.id)
        return state, [hit(CYCLE_ENDING, state, timer.data["occurrence"], sig.at, evidence)]
    occurrence = f"{category or 'any'}:chat:{local_day(state.profile, sig.at).isoformat()}"
    return state, [hit(CYCLE_ENDING, state, occurrence, sig.at, _chat_only(state.profile, category, match, sig))]


def _chat_only(profile: Profile, category: str | None, match: IntentMatch, sig: Signal) -> dict[str, Any]:
    assert sig.event is not None  # noqa: S101 - on_chat checked it
    lines = [p for p in profile.purchases if p.category == category]
    words = sig.settings.consumption_cycle_ending.category_words if sig.settings.consumption_cycle_ending else {}
    return {
        "rule": f"chat intent {match.intent}",
        "basis": "chat",
        "category": category,
        "sku": lines[-1].sku if lines else None,
        "product": lines[-1].product_name if lines else next(iter(words.get(category or "", ())), ""),
        "orders": [p.order_id for p in lines[-5:]],
        "run_out": None,
        "days_left": 0,
        "interval_days": None,
        **chat_evidence(match, sig.event),
    }


def _named_category(text: str, settings: CycleSettings) -> str | None:
    for category, words in settings.category_words.items():
        if any(word in text for word in words):
            return category
    return None


def _latest_category(profile: Profile) -> str | None:
    lines = [p for p in profile.purchases if not p.refunded]
    return lines[-1].category if lines else None
