"""What one customer's change adds to the population's figures (``core.population``)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from orchestrator.core.population import FREQUENCY, INTERVAL, MONETARY, Observation
from orchestrator.core.scenarios.base import intervals
from orchestrator.core.state import Profile


def observations(before: Profile, after: Profile) -> tuple[Observation, ...]:
    """Intervals between orders (all, and per category) that appeared or went, and the
    customer's frequency and monetary totals moving from their old to their new value."""
    found: list[Observation] = []
    old, new = _series(before), _series(after)
    for key in sorted(old.keys() | new.keys()):
        was, now = Counter(old.get(key, [])), Counter(new.get(key, []))
        found.extend(Observation(key=key, value=v, weight=-1) for v in sorted((was - now).elements()))
        found.extend(Observation(key=key, value=v, weight=1) for v in sorted((now - was).elements()))
    for key, was_value, now_value in zip((FREQUENCY, MONETARY), _totals(before), _totals(after), strict=True):
        if was_value != now_value:
            if was_value is not None:
                found.append(Observation(key=key, value=was_value, weight=-1))
            if now_value is not None:
                found.append(Observation(key=key, value=now_value, weight=1))
    return tuple(found)


def _series(profile: Profile) -> dict[str, list[float]]:
    paid = profile.paid_orders()
    by_category: dict[str, list[datetime]] = {}
    for order in paid:  # one pass: each order's time under each of its categories (once)
        for category in dict.fromkeys(order.categories):
            by_category.setdefault(category, []).append(order.time)
    every = intervals(o.time for o in paid)
    series = {f"{INTERVAL}*": every}
    for category in sorted(by_category):
        times = by_category[category]
        # A category every order has (a one-category shop) has the same intervals as all orders.
        series[f"{INTERVAL}{category}"] = every if len(times) == len(paid) else intervals(times)
    return {k: v for k, v in series.items() if v}


def _totals(profile: Profile) -> tuple[float | None, float | None]:
    paid = profile.paid_orders()
    if not paid:
        return None, None
    return float(len(paid)), round(sum(o.amount for o in paid), 2)
