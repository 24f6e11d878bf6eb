"""Scenario detection. First detector: the consumption cycle is ending (食用周期结束).

Per category, purchases are replayed in event-time order as a stock of days: each order
adds ``qty × days_per_unit`` from the later of its time and the current run-out. The
cycle timer fires ``lead_days`` before run-out; a later order moves it, a refund
recomputes it (or cancels it), and each run-out date fires at most once.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from orchestrator.core.effects import ScenarioHit
from orchestrator.core.products import ProductCatalog
from orchestrator.core.state import Profile, Purchase, Timer

CYCLE_ENDING = "consumption_cycle_ending"
CYCLE_PREFIX = "cycle:"
SCENARIOS = frozenset({CYCLE_ENDING})
# What each scenario's evidence looks like, for validating templates before anything runs.
SAMPLE_EVIDENCE: dict[str, dict[str, object]] = {
    CYCLE_ENDING: {
        "rule": "last purchase + qty × days_per_unit - lead_days",
        "category": "protein",
        "sku": "PRO-900",
        "product": "乳清蛋白粉 900g",
        "run_out": "2026-11-25T10:00:00+08:00",
        "days_left": 3,
    },
}


def cycle_timers(profile: Profile) -> dict[str, Timer]:
    """The cycle timer each category should have now, from the purchase history."""
    by_category: dict[str, list[Purchase]] = {}
    for purchase in profile.purchases:
        if not purchase.refunded:
            by_category.setdefault(purchase.category, []).append(purchase)
    return {f"{CYCLE_PREFIX}{cat}": _timer(cat, lines) for cat, lines in by_category.items()}


def _timer(category: str, lines: list[Purchase]) -> Timer:
    run_out: datetime | None = None
    for line in sorted(lines, key=lambda p: p.time):
        start = line.time if run_out is None or run_out < line.time else run_out
        run_out = start + timedelta(days=line.days)
    assert run_out is not None  # noqa: S101 - lines is never empty
    last = lines[-1]
    return Timer(
        id=f"{CYCLE_PREFIX}{category}",
        due_at=run_out - timedelta(days=last.lead_days),
        data={
            "category": category,
            "sku": last.sku,
            "product": last.product_name,
            "run_out": run_out.isoformat(),
            "occurrence": f"{category}:{run_out.date().isoformat()}",
        },
    )


def cycle_hit(customer_id: str, timer: Timer, now: datetime, products: ProductCatalog) -> ScenarioHit | None:
    """The hit for a fired cycle timer, or None when run-out is too far in the past to act on."""
    run_out = datetime.fromisoformat(timer.data["run_out"])
    if now - run_out > timedelta(days=products.stale_after_days):
        return None
    days_left = max(0, math.ceil((run_out - now) / timedelta(days=1)))
    return ScenarioHit(
        scenario=CYCLE_ENDING,
        customer_id=customer_id,
        occurrence=timer.data["occurrence"],
        at=now,
        evidence={
            "rule": "last purchase + qty × days_per_unit - lead_days",
            "category": timer.data["category"],
            "sku": timer.data["sku"],
            "product": timer.data["product"],
            "run_out": timer.data["run_out"],
            "days_left": days_left,
        },
    )
