"""consumption_cycle_ending beyond the catalog: own rhythm, population, seed; chat that says it is running out."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest

from orchestrator.core import CustomerState, Event, Product, ProductCatalog, World
from orchestrator.core.population import Observation, Population
from orchestrator.core.scenario_spec import ScenarioSettings
from orchestrator.core.scenarios.names import SAMPLE_EVIDENCE
from tests.builders import NOW, PRODUCTS, fire, make_event, make_world, order, refund, run

DAY = timedelta(days=1)
SETTINGS: dict[str, Any] = {
    "chat": {"intents": {"running_out": {"phrases": ["快吃完了", "用完了", "只剩一点了"]}}},
    "consumption_cycle_ending": {
        "lead_days": 3,
        "rhythm_categories": ["coffee"],
        "chat_intent": "running_out",
        "category_words": {"protein": ["蛋白粉"], "coffee": ["咖啡"]},
    },
}


def _world(observed: Population | None = None, **settings: Any) -> World:
    merged = {**SETTINGS, **settings}
    products = ProductCatalog(
        products={**PRODUCTS.products, "TEA-1": Product(name="乌龙茶", category="tea", days_per_unit=None)}
    )
    return replace(
        make_world(products=products),
        scenarios=ScenarioSettings.model_validate(merged),
        population=observed or Population(),
    )


def _coffee(at: datetime, order_id: str, qty: float = 1) -> Event:
    return make_event(
        "order.paid",
        at,
        {"order_id": order_id, "amount": 50, "items": [{"sku": "BEAN-X", "category": "coffee", "qty": qty}]},
        id_=f"pay-{order_id}",
    )


def _chat(at: datetime, text: str, **data: Any) -> Event:
    return make_event("chat.message", at, {"text": text, **data}, id_=f"chat-{at.isoformat()}-{text}")


# gaps between three or more coffee orders → the run-out the timer stands for
@pytest.mark.parametrize(
    ("gaps", "interval"),
    [([20, 20], 20), ([10, 30, 20], 20), ([30, 10], 20), ([14, 14, 16, 30], 15)],
)
def test_without_a_catalog_figure_the_customers_own_median_interval_decides(gaps: list[int], interval: float) -> None:
    times = [NOW - sum(gaps) * DAY]
    for gap in gaps:
        times.append(times[-1] + gap * DAY)
    events = [_coffee(t, f"C{i}") for i, t in enumerate(times)]
    state = run(_world(), CustomerState.new("M1"), *events)[-1].state
    timer = state.timers["cycle:coffee"]
    assert timer.due_at == NOW + interval * DAY - 3 * DAY
    assert timer.data["basis"] == "own"
    assert timer.data["product"] == "BEAN-X"


def test_with_too_few_intervals_the_population_median_then_the_seed_decides() -> None:
    events = (_coffee(NOW - 30 * DAY, "C1"), _coffee(NOW, "C2"))  # one interval only
    observed = Population().observe(Observation(key="interval:coffee", value=12) for _ in range(40))
    by_population = run(_world(observed), CustomerState.new("M1"), *events)[-1].state.timers["cycle:coffee"]
    assert by_population.data["basis"] == "population"
    assert abs(by_population.due_at - (NOW + 9 * DAY)) < DAY / 10  # 12 days (2 % buckets) - 3 lead
    seeded = _world(population={"interval_days": {"coffee": 25}})
    by_seed = run(seeded, CustomerState.new("M1"), *events)[-1].state.timers["cycle:coffee"]
    assert (by_seed.data["basis"], by_seed.due_at) == ("seed", NOW + 22 * DAY)


def test_a_small_population_is_not_trusted_and_no_figure_means_no_timer() -> None:
    few = Population().observe(Observation(key="interval:coffee", value=12) for _ in range(5))
    [outcome] = run(_world(few), CustomerState.new("M1"), _coffee(NOW, "C1"))
    assert outcome.state.timers == {}
    [tea] = run(_world(), CustomerState.new("M1"), order(NOW, "T1", ("TEA-1", 1)))
    assert "cycle:tea" not in tea.state.timers  # in the catalog without days_per_unit: rhythm, none yet


def test_unlisted_categories_are_not_tracked() -> None:
    event = make_event("order.paid", NOW, {"order_id": "X", "items": [{"sku": "SHIRT", "category": "apparel"}]})
    [outcome] = run(_world(), CustomerState.new("M1"), event)
    assert outcome.state.timers == {}
    assert outcome.state.profile.purchases == ()


def test_the_rhythm_timer_fires_with_its_evidence() -> None:
    world = _world()
    events = [_coffee(NOW - (60 - 20 * i) * DAY, f"C{i}") for i in range(3)]  # every 20 days, last 20 days ago
    state = run(world, CustomerState.new("M1"), *events)[-1].state
    [outcome] = run(world, state, fire(state, "cycle:coffee"), now=state.timers["cycle:coffee"].due_at)
    [hit] = outcome.hits
    assert hit.evidence["basis"] == "own"
    assert hit.evidence["interval_days"] == 20.0
    assert hit.evidence["orders"] == ["C0", "C1", "C2"]
    assert hit.evidence["days_left"] == 3
    assert hit.evidence["rule"] == "last purchase + own median repurchase interval - lead_days"
    assert set(hit.evidence) == set(SAMPLE_EVIDENCE["consumption_cycle_ending"])


def test_a_chat_line_saying_it_runs_out_fires_now_as_the_known_cycle() -> None:
    world = _world()
    state = run(world, CustomerState.new("M1"), order(NOW - 10 * DAY, "O1", ("PRO-900", 1)))[-1].state
    occurrence = state.timers["cycle:protein"].data["occurrence"]
    [outcome] = run(world, state, _chat(NOW, "蛋白粉快吃完了"))
    [hit] = outcome.hits
    assert (hit.scenario, hit.occurrence, hit.at) == ("consumption_cycle_ending", occurrence, NOW)
    assert hit.evidence["source"] == "chat"
    assert hit.evidence["phrase"] == "快吃完了"
    assert hit.evidence["product"] == "蛋白粉 900g"
    assert outcome.timers_cancelled == ("cycle:protein",)
    assert set(hit.evidence) == set(SAMPLE_EVIDENCE["consumption_cycle_ending"])
    # The timer's moment was this one: it does not come back, and saying it again does nothing.
    later = run(world, outcome.state, order(NOW, "X1", ("TSHIRT", 1)), _chat(NOW + DAY, "快吃完了"))
    assert "cycle:protein" not in later[-1].state.timers
    assert [o.hits for o in later] == [(), ()]


def test_after_the_timer_fired_the_same_run_out_does_not_fire_again_from_chat() -> None:
    world = _world()
    state = run(world, CustomerState.new("M1"), order(NOW - 27 * DAY, "O1", ("PRO-900", 1)))[-1].state
    state = run(world, state, fire(state, "cycle:protein"))[-1].state
    assert run(world, state, _chat(NOW + DAY, "快吃完了"))[-1].hits == ()


@pytest.mark.parametrize(
    ("text", "data", "fires"),
    [
        ("还没吃完呢", {}, False),
        ("快吃完了", {"from": "staff"}, False),  # the associate's own line
        ("快吃完了", {"sender": "customer"}, True),
        ("收到，谢谢", {}, False),
    ],
)
def test_only_the_customers_unnegated_lines_fire(text: str, data: dict[str, str], fires: bool) -> None:
    world = _world()
    state = run(world, CustomerState.new("M1"), order(NOW - 10 * DAY, "O1", ("PRO-900", 1)))[-1].state
    assert bool(run(world, state, _chat(NOW, text, **data))[-1].hits) is fires


def test_without_a_known_cycle_the_chat_fires_once_a_day_for_the_named_category() -> None:
    world = _world()
    outcomes = run(
        world,
        CustomerState.new("M1"),
        _chat(NOW, "咖啡快吃完了"),
        _chat(NOW + DAY / 24, "咖啡真的用完了"),
        _chat(NOW + 2 * DAY, "咖啡用完了"),
    )
    assert [[h.occurrence for h in o.hits] for o in outcomes] == [
        ["coffee:chat:2026-11-20"],
        [],
        ["coffee:chat:2026-11-22"],
    ]
    assert outcomes[0].hits[0].evidence["product"] == "咖啡"


def test_a_customer_who_bought_nothing_is_not_told_an_earlier_purchase_runs_out() -> None:
    world = _world()
    assert run(world, CustomerState.new("M1"), _chat(NOW, "快吃完了"))[-1].hits == ()
    refunded = run(world, CustomerState.new("M1"), order(NOW - 9 * DAY, "O1", ("PRO-900", 1)), refund(NOW, "O1"))
    assert run(world, refunded[-1].state, _chat(NOW + DAY, "快吃完了"))[-1].hits == ()
    bought = run(world, CustomerState.new("M1"), order(NOW - 9 * DAY, "O1", ("PRO-900", 1)))[-1].state
    [hit] = run(world, bought, _chat(NOW, "快吃完了"))[-1].hits
    assert hit.evidence["category"] == "protein"


def test_a_chat_about_a_long_past_run_out_is_a_new_moment() -> None:
    world = _world()
    state = run(world, CustomerState.new("M1"), order(NOW - 60 * DAY, "O1", ("PRO-900", 1)))[-1].state
    [hit] = run(world, state, _chat(NOW, "蛋白粉用完了"))[-1].hits
    assert hit.occurrence == "protein:chat:2026-11-20"
    assert hit.evidence["sku"] == "PRO-900"


def test_the_cycle_can_be_turned_off() -> None:
    world = replace(make_world(), scenarios=ScenarioSettings(consumption_cycle_ending=None))
    [outcome] = run(world, CustomerState.new("M1"), order(NOW, "O1", ("PRO-900", 1)))
    assert outcome.state.timers == {}
