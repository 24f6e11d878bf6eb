"""Values for tests: events, worlds and journeys built in one line each."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

from orchestrator.config.cron import CroniterSchedules
from orchestrator.core import (
    CustomerState,
    Event,
    JourneySpec,
    Outcome,
    Product,
    ProductCatalog,
    TimerFired,
    World,
    parse_event,
    process,
)
from orchestrator.core.policy import ContactPolicy
from orchestrator.errors import StepError

CST = timezone(timedelta(hours=8))
NOW = datetime(2026, 11, 20, 10, 0, tzinfo=CST)

PRODUCTS = ProductCatalog(
    products={
        "PRO-900": Product(name="蛋白粉 900g", category="protein", days_per_unit=30, lead_days=5),
        "PRO-450": Product(name="蛋白粉 450g", category="protein", days_per_unit=15, lead_days=3),
        "VITC-60": Product(name="维生素C", category="vitamin", days_per_unit=60, lead_days=7),
    }
)


def make_event(
    type_: str,
    at: datetime,
    data: Mapping[str, Any] | None = None,
    *,
    id_: str | None = None,
    member: str = "M1",
    **identity: str,
) -> Event:
    return parse_event(
        {
            "id": id_ or f"{type_}@{at.isoformat()}",
            "type": type_,
            "time": at.isoformat(),
            "identity": {"member_id": member, **identity},
            "data": dict(data or {}),
        }
    )


def order(at: datetime, order_id: str, *items: tuple[str, float], member: str = "M1") -> Event:
    return make_event(
        "order.paid",
        at,
        {"order_id": order_id, "amount": 100.0, "items": [{"sku": s, "qty": q} for s, q in items]},
        id_=f"pay-{order_id}",
        member=member,
    )


def refund(at: datetime, order_id: str, member: str = "M1") -> Event:
    return make_event("order.refunded", at, {"order_id": order_id}, id_=f"refund-{order_id}", member=member)


class FakeRenderer:
    """Renders ``name|profile.name|days_left``; fails for templates named in ``failing``."""

    def __init__(self, failing: frozenset[str] = frozenset()) -> None:
        self.failing = failing
        self.contexts: list[Mapping[str, Any]] = []

    def render(self, template: str, context: Mapping[str, Any]) -> str:
        self.contexts.append(context)
        if template in self.failing:
            raise StepError(f"template {template}:1: UndefinedError: 'nope' is undefined")
        scenario = context["scenario"]
        return f"{template}|{context['profile']['name']}|{scenario.get('days_left')}"


class FakeConditions:
    """Conditions as Python callables over the context, keyed by their expression text."""

    def __init__(self, rules: Mapping[str, Callable[[Mapping[str, Any]], bool]] | None = None) -> None:
        self.rules = dict(rules or {})

    def evaluate(self, expression: str, context: Mapping[str, Any]) -> bool:
        return self.rules[expression](context)


def journey(**overrides: Any) -> JourneySpec:
    spec: dict[str, Any] = {
        "id": "replenish",
        "name": "复购提醒",
        "version": 1,
        "trigger": {"scenario": "consumption_cycle_ending"},
        "steps": [{"id": "remind", "send": {"channel": "wecom_private", "template": "remind.j2"}}],
    }
    spec.update(overrides)
    return JourneySpec.model_validate(spec)


def make_world(
    *journeys: JourneySpec,
    renderer: FakeRenderer | None = None,
    conditions: FakeConditions | None = None,
    products: ProductCatalog = PRODUCTS,
    policy: ContactPolicy | None = None,
) -> World:
    return World(
        journeys=journeys or (journey(),),
        products=products,
        renderer=renderer or FakeRenderer(),
        conditions=conditions or FakeConditions(),
        policy=policy or ContactPolicy(),
        cron=CroniterSchedules(),
    )


def run(world: World, state: CustomerState, *inputs: Event | TimerFired, now: datetime = NOW) -> list[Outcome]:
    outcomes = []
    for inp in inputs:
        outcome = process(state, inp, now, world)
        outcomes.append(outcome)
        state = outcome.state
    return outcomes


def fire(state: CustomerState, timer_id: str) -> TimerFired:
    timer = state.timers[timer_id]
    return TimerFired(customer_id=state.customer_id, timer_id=timer_id, due_at=timer.due_at)


def occurrence(state: CustomerState, journey_id: str, due_at: datetime) -> TimerFired:
    """A schedule journey's occurrence, as the audience walk hands it to one customer."""
    return TimerFired(customer_id=state.customer_id, timer_id=f"sched:{journey_id}", due_at=due_at)
