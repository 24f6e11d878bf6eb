"""value_tier.changed: RFM scores to tiers by thresholds or population quantiles."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from orchestrator.core import CustomerState, Event, World
from orchestrator.core.population import FREQUENCY, MONETARY, Observation, Population
from orchestrator.core.scenario_spec import ScenarioSettings, ValueTierSettings
from orchestrator.core.scenarios import value_tier
from orchestrator.core.scenarios.names import SAMPLE_EVIDENCE
from orchestrator.core.state import OrderRecord, Profile
from tests.builders import NOW, fire, make_event, make_world, refund, run

DAY = timedelta(days=1)
TIER = "value_tier.changed"
SETTINGS = ValueTierSettings()  # recency 90/180/365/730, frequency 2/3/5/8, monetary 300/1000/3000/8000


def _profile(*orders: tuple[float, float]) -> Profile:
    """(days ago, amount) per order."""
    log = tuple(
        OrderRecord(order_id=f"O{i}", time=NOW - d * DAY, amount=a)
        for i, (d, a) in enumerate(sorted(orders, reverse=True))
    )
    return Profile(order_log=log, orders=len(log))


# orders → (r, f, m, tier)
RANKS: dict[str, tuple[tuple[tuple[float, float], ...], tuple[int, int, int, str]]] = {
    "one small recent order": (((5, 99),), (5, 1, 1, "普通")),
    "one ¥300 order": (((5, 300),), (5, 1, 2, "银")),
    "three orders, ¥1200": (((100, 400), (50, 400), (10, 400)), (5, 3, 3, "金")),
    "eight orders, ¥9000": (tuple((d, 1125) for d in range(5, 85, 10)), (5, 5, 5, "钻")),
    "big spender gone a year": (((400, 9000),), (2, 1, 5, "银")),
    "recency at the cut": (((90, 300),), (4, 1, 2, "普通")),
}


@pytest.mark.parametrize("case", list(RANKS))
def test_thresholds_score_and_tier(case: str) -> None:
    orders, (r, f, m, tier) = RANKS[case]
    ranking = value_tier.evaluate(_profile(*orders), NOW, SETTINGS, Population())
    assert ranking is not None
    assert (ranking.r, ranking.f, ranking.m, ranking.tier, ranking.method) == (r, f, m, tier, "thresholds")


def test_no_order_no_ranking() -> None:
    assert value_tier.evaluate(Profile(), NOW, SETTINGS, Population()) is None


def _population(frequencies: list[int], amounts: list[float]) -> Population:
    observed = [Observation(key=FREQUENCY, value=f) for f in frequencies]
    return Population().observe(observed + [Observation(key=MONETARY, value=a) for a in amounts])


def test_quantiles_rank_frequency_and_monetary_against_the_population() -> None:
    settings = SETTINGS.model_copy(update={"method": "quantiles", "population_min": 100})
    population = _population([1] * 60 + [2] * 20 + [3] * 10 + [6] * 10, [10.0 * (i + 1) for i in range(100)])
    ranking = value_tier.evaluate(_profile((5, 2000), (20, 1000)), NOW, settings, population)
    assert ranking is not None
    # frequency 2 exceeds the 20/40/60 % cuts (1) but not the 80 % cut (2); ¥3000 exceeds them all (¥200 … ¥800).
    assert (ranking.f, ranking.m, ranking.method) == (4, 5, "quantiles")
    too_few = _population([1] * 10, [100.0] * 10)
    assert value_tier.evaluate(_profile((5, 2000)), NOW, settings, too_few).method == "thresholds"  # type: ignore[union-attr]


def _world(**tier: Any) -> World:
    return replace(make_world(), scenarios=ScenarioSettings.model_validate({"value_tier": tier}))


def _order(at_days_ago: float, order_id: str, amount: float) -> Event:
    data = {"order_id": order_id, "amount": amount, "items": []}
    return make_event("order.paid", NOW - at_days_ago * DAY, data, id_=f"pay-{order_id}")


def test_a_tier_change_is_a_hit_with_from_to_and_the_scores() -> None:
    outcomes = run(
        _world(),
        CustomerState.new("M1"),
        _order(30, "O1", 99),
        _order(20, "O2", 2950),
        _order(10, "O3", 500),
        refund(NOW, "O2"),
    )
    changes = [[(h.evidence["from"], h.evidence["to"]) for h in o.hits if h.scenario == TIER] for o in outcomes]
    assert changes == [[], [("普通", "金")], [], [("金", "银")]]  # the first small order is the starting tier
    hit = outcomes[1].hits[0]
    assert (hit.evidence["r"], hit.evidence["f"], hit.evidence["m"], hit.evidence["score"]) == (5, 2, 4, 11)
    assert set(hit.evidence) == set(SAMPLE_EVIDENCE[TIER])
    assert outcomes[-1].state.profile.value_tier == "银"
    assert outcomes[-1].state.profile.rfm["monetary"] == 599


def test_recency_lowers_the_tier_as_time_passes() -> None:
    world = _world()
    bought = NOW - 100 * DAY
    state = run(world, CustomerState.new("M1"), _order(100, "O1", 3000), _order(100, "O2", 200), now=bought)[-1].state
    assert state.profile.value_tier == "金"  # 5 + 2 + 4
    assert state.timers["life:standing"].due_at == bought + 91 * DAY  # the 90-day cut, a day of grace
    [outcome] = run(world, state, fire(state, "life:standing"), now=bought + 91 * DAY)
    [hit] = outcome.hits
    assert (hit.evidence["from"], hit.evidence["to"], hit.at) == ("金", "银", bought + 90 * DAY)


def test_tiers_must_be_ordered_and_end_at_the_lowest_score() -> None:
    with pytest.raises(ValueError, match="highest min_score down"):
        ValueTierSettings.model_validate({"tiers": [{"name": "a", "min_score": 3}, {"name": "b", "min_score": 9}]})
    with pytest.raises(ValueError, match="min_score 3"):
        ValueTierSettings.model_validate({"tiers": [{"name": "a", "min_score": 9}, {"name": "b", "min_score": 5}]})
    with pytest.raises(ValueError, match="ascending"):
        ValueTierSettings.model_validate({"monetary": [10, 5, 20, 30]})


def test_a_refund_takes_the_order_out_of_spent_orders_and_the_tier() -> None:
    world = _world()
    big = _order(10, "O-BIG", 3500)
    outcomes = run(world, CustomerState.new("M1"), _order(20, "O1", 100), big, refund(NOW - 9 * DAY, "O-BIG"))
    high, refunded = outcomes[1].state.profile, outcomes[2].state.profile
    assert (high.orders, high.spent) == (2, 3600)
    assert (refunded.orders, refunded.spent) == (1, 100)
    assert refunded.value_tier != high.value_tier
    again = run(world, outcomes[-1].state, refund(NOW - 8 * DAY, "O-BIG").model_copy(update={"id": "r2"}))[-1]
    assert (again.state.profile.orders, again.state.profile.spent) == (1, 100)  # a second report changes nothing


def test_a_refund_that_arrives_before_its_order_keeps_the_order_out_of_the_totals() -> None:
    outcomes = run(_world(), CustomerState.new("M1"), refund(NOW - 9 * DAY, "O-BIG"), _order(10, "O-BIG", 3500))
    assert (outcomes[-1].state.profile.orders, outcomes[-1].state.profile.spent) == (0, 0)
