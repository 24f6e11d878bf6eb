"""service_due (保养到期): time or projected mileage since the last service says the next is due.

The plan comes from the car (``brands``, keyed by brand or by model name, else ``default``;
no plan, no timer): due
at the last service + ``interval_days``, or when the projected odometer reaches the last
reading + ``interval_km``, whichever comes first. The projection uses the customer's own
km per day (two readings at least ``min_span_days`` apart), else ``daily_km``. The
``service:due`` timer fires ``lead_days`` before, whole days after the last service at its
time of day (10:00 local when the service was recorded at night); each service is one occurrence, and a
due date more than ``stale_after_days`` past is history.
"""

from __future__ import annotations

import math
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from orchestrator.core.scenario_spec import ServiceSettings
from orchestrator.core.scenarios.base import DAY, Found, Signal, days, hit
from orchestrator.core.scenarios.names import SERVICE_DUE, SERVICE_TIMER, spent
from orchestrator.core.state import CustomerState, Profile, Timer

DAYTIME = (time(9, 0), time(20, 0))  # local hours a service reminder may fire in


def on_event(state: CustomerState, sig: Signal) -> Found:
    settings = sig.settings.service_due
    if settings is None or sig.event is None or sig.event.type != "service.completed":
        return state, []
    timer = plan(state.profile, settings)
    if timer is None or timer.data["occurrence"] in state.fired:
        return sig.fx.cancel_timer(state, SERVICE_TIMER), []
    if state.timers.get(SERVICE_TIMER) != timer:
        state = sig.fx.set_timer(state, timer)
    return state, []


def plan(profile: Profile, settings: ServiceSettings) -> Timer | None:
    """The timer for the next service after the latest one, when the brand has a plan."""
    if not profile.services:
        return None
    last = profile.services[-1]
    brand = last.brand or profile.attributes.get("car_brand")
    model = last.model or profile.attributes.get("car_model")
    found = [settings.brands[str(k)] for k in (brand, model) if k and str(k) in settings.brands]
    maintenance = found[0] if found else settings.default
    if maintenance is None:
        return None
    daily, daily_basis = _daily_km(profile, settings)
    due = last.time + timedelta(days=maintenance.interval_days)
    by = "time"
    # A car driven less than 0.1 km a day (rounded to 0) never reaches the mileage before the time.
    if (
        maintenance.interval_km is not None
        and daily > 0
        and maintenance.interval_km / daily < maintenance.interval_days
    ):
        by_km = last.time + timedelta(days=math.floor(maintenance.interval_km / daily))  # whole days
        if by_km < due:
            due, by = by_km, "mileage"
    rule = f"last service + {maintenance.interval_days} days"
    if maintenance.interval_km is not None:
        rule += f" or {maintenance.interval_km:g} km at {daily:g} km/day ({daily_basis}), whichever first"
    data = {
        "occurrence": f"service:{last.time.isoformat()}",
        "rule": rule,
        "brand": str(brand or ""),
        "model": str(model or ""),
        "last_service": last.time.isoformat(),
        "last_mileage": "" if last.mileage is None else str(last.mileage),
        "due": due.isoformat(),
        "by": by,
        "daily_km": str(daily),
    }
    return Timer(id=SERVICE_TIMER, due_at=daytime(due - timedelta(days=settings.lead_days), profile.tz), data=data)


def daytime(at: datetime, tz: str) -> datetime:
    """``at`` if it falls in the daytime (``DAYTIME``) of the customer's zone, else 10:00 that day.

    Dues are whole days after the last service, so the reminder keeps the visit's time of
    day; a service recorded at night (a batch upload at 02:00) is reminded at 10:00.
    """
    local = at.astimezone(ZoneInfo(tz))
    if DAYTIME[0] <= local.time() <= DAYTIME[1]:
        return at
    return datetime.combine(local.date(), time(10, 0), tzinfo=local.tzinfo)


def _daily_km(profile: Profile, settings: ServiceSettings) -> tuple[float, str]:
    readings = [(s.time, s.mileage) for s in profile.services if s.mileage is not None]
    if len(readings) >= 2:
        (first_at, first_km), (last_at, last_km) = readings[0], readings[-1]
        span = days(last_at - first_at)
        if first_km is not None and last_km is not None and span >= settings.min_span_days and last_km > first_km:
            return round((last_km - first_km) / span, 1), "own"
    return settings.daily_km, "default"


def on_timer(state: CustomerState, timer: Timer, sig: Signal) -> Found:
    settings = sig.settings.service_due
    due = datetime.fromisoformat(timer.data["due"])
    if settings is None or sig.ctx.now - due > timedelta(days=settings.stale_after_days):
        return spent(state, f"{SERVICE_DUE}#{timer.data['occurrence']}"), []  # history: never fire it later
    evidence = _evidence(timer, due, sig.ctx.now)
    return state, [hit(SERVICE_DUE, state, timer.data["occurrence"], sig.at, evidence)]


def _evidence(timer: Timer, due: datetime, now: datetime) -> dict[str, Any]:
    data = timer.data
    daily = float(data["daily_km"])
    last = datetime.fromisoformat(data["last_service"])
    mileage = float(data["last_mileage"]) if data["last_mileage"] else None
    projected = None if mileage is None else round(mileage + daily * days(due - last))
    return {
        "rule": data["rule"],
        "brand": data["brand"] or None,
        "model": data["model"] or None,
        "last_service": data["last_service"],
        "last_mileage": mileage,
        "due": data["due"],
        "by": data["by"],
        "daily_km": daily,
        "projected_km": projected,
        "days_left": max(0, math.ceil((due - now) / DAY)),
    }
