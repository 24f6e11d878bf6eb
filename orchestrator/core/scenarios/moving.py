"""moving_house (乔迁新居): the customer is fitting out a new home.

Signals: orders of at least ``min_categories`` different big-kitchen-appliance categories
(range hood, gas stove … as configured) within ``window`` of each other; an install
request (an event of a type in ``install_events`` whose ``data.category``, if any, is one
of them); a chat line about 装修 / 搬家 / 乔迁. One move is one moment: no hit within
``cooldown`` of the previous one.
"""

from __future__ import annotations

from typing import Any

from orchestrator.core.scenario_spec import MovingSettings
from orchestrator.core.scenarios.base import DAY, Found, Signal, chat_evidence, cooled, hit, local_day
from orchestrator.core.scenarios.names import MOVING_HOUSE
from orchestrator.core.state import CustomerState, Profile

_EMPTY: dict[str, Any] = {"phrase": None, "text": None, "categories": [], "orders": [], "amount": None}


def on_event(state: CustomerState, sig: Signal) -> Found:
    settings = sig.settings.moving_house
    if settings is None or sig.event is None:
        return state, []
    found = _from_orders(state.profile, sig, settings) or _from_signal(state.profile, sig, settings)
    if found is None or not cooled(state.profile, MOVING_HOUSE, sig.at, settings.cooldown):
        return state, []
    occurrence, evidence = found
    evidence = {**_EMPTY, "window_days": round(settings.window / DAY), "event_id": sig.event.id, **evidence}
    return state, [hit(MOVING_HOUSE, state, occurrence, sig.at, evidence)]


def _from_orders(profile: Profile, sig: Signal, settings: MovingSettings) -> tuple[str, dict[str, Any]] | None:
    if sig.event is None or sig.event.type != "order.paid":
        return None
    big = set(settings.categories)
    window = [
        o for o in profile.paid_orders() if abs(o.time - sig.at) <= settings.window and big.intersection(o.categories)
    ]
    if not any(o.order_id == sig.event.data.get("order_id") for o in window):
        return None  # this order has no big appliance: the window was judged when those came
    categories = sorted({c for o in window for c in o.categories if c in big})
    if len(categories) < settings.min_categories:
        return None
    evidence = {
        "rule": f"{settings.min_categories} big kitchen categories within {round(settings.window / DAY)}d",
        "source": "order",
        "categories": categories,
        "orders": [o.order_id for o in window],
        "amount": round(sum(o.amount for o in window), 2),
    }
    return f"orders:{local_day(profile, window[0].time).isoformat()}", evidence


def _from_signal(profile: Profile, sig: Signal, settings: MovingSettings) -> tuple[str, dict[str, Any]] | None:
    assert sig.event is not None  # noqa: S101 - on_event checked it
    day = local_day(profile, sig.at).isoformat()
    if sig.event.type in settings.install_events:
        category = sig.event.data.get("category")
        if category is not None and category not in settings.categories:
            return None
        categories = [category] if category else []
        evidence = {"rule": f"install request ({sig.event.type})", "source": "install", "categories": categories}
        return f"install:{day}", evidence
    match = sig.intent(settings.chat_intent)
    if match is None:
        return None
    return f"chat:{day}", {"rule": f"chat intent {match.intent}", **chat_evidence(match, sig.event)}
