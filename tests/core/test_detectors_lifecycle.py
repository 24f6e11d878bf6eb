"""lifecycle.changed: stages relative to the customer's own rhythm, churn risk, and time passing."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest

from orchestrator.core import CustomerState, Event, World
from orchestrator.core.population import Observation, Population
from orchestrator.core.scenario_spec import LifecycleSettings, ScenarioSettings
from orchestrator.core.scenarios import lifecycle
from orchestrator.core.scenarios.base import purchase_times
from orchestrator.core.scenarios.names import SAMPLE_EVIDENCE
from orchestrator.core.state import OrderRecord, Profile
from tests.builders import NOW, fire, make_event, make_world, order, refund, run

DAY = timedelta(days=1)
LIFE = "lifecycle.changed"
SETTINGS = LifecycleSettings()  # rhythm 60 by default; dormant max(45, 2×), churned max(120, 4×)


def _world(**life: Any) -> World:
    return replace(make_world(), scenarios=ScenarioSettings.model_validate({"lifecycle": life}))


def _profile(*days_ago: float, refunded: tuple[int, ...] = ()) -> Profile:
    log = tuple(
        OrderRecord(order_id=f"O{i}", time=NOW - d * DAY, amount=100, refunded=i in refunded)
        for i, d in enumerate(sorted(days_ago, reverse=True))
    )
    return Profile(first_seen_at=NOW - 400 * DAY, order_log=log, orders=len(log))


# order ages in days → stage now
STAGES: dict[str, tuple[tuple[float, ...], tuple[int, ...], str]] = {
    "no order": ((), (), "registered"),
    "only a refunded order": ((5,), (0,), "registered"),
    "first order": ((10,), (), "new"),
    "second order": ((40, 10), (), "loyal"),
    "one order, just before dormancy (default rhythm 60 → 120 days)": ((119,), (), "new"),
    "one order, at dormancy": ((120,), (), "dormant"),
    "one order, at churn (4 × 60 = 240 days)": ((240,), (), "churned"),
    "fast buyer (every 10 days): the 45-day floor holds": ((50, 40, 30, 20), (), "loyal"),
    "fast buyer gone 46 days": ((76, 66, 56, 46), (), "dormant"),
    "fast buyer gone 120 days: the churn floor": ((150, 140, 130, 120), (), "churned"),
    "slow buyer (every 100 days), 150 days on: still loyal": ((350, 250, 150), (), "loyal"),
    "slow buyer, 200 days on": ((400, 300, 200), (), "dormant"),
}


@pytest.mark.parametrize("case", list(STAGES))
def test_stages_follow_the_customers_own_rhythm(case: str) -> None:
    ages, refunded, stage = STAGES[case]
    standing = lifecycle.evaluate(_profile(*ages, refunded=refunded), NOW, SETTINGS, make_world())
    assert standing.stage == stage


def test_the_rhythm_falls_back_from_own_to_population_to_default() -> None:
    profile = _profile(30, 10)  # one interval: not enough
    assert lifecycle.evaluate(profile, NOW, SETTINGS, make_world()).rhythm.basis == "default"
    population = Population().observe(Observation(key="interval:*", value=30) for _ in range(30))
    found = lifecycle.evaluate(profile, NOW, SETTINGS, replace(make_world(), population=population)).rhythm
    assert found.basis == "population"
    assert abs(found.days - 30) < 1


def _risk(gaps: list[float], silent: float, **model: Any) -> float:
    """Churn risk of orders ``gaps`` days apart, the last ``silent`` days ago."""
    times = [NOW - silent * DAY]
    for gap in reversed(gaps):
        times.insert(0, times[0] - gap * DAY)
    return lifecycle.churn_risk(purchase_times(times), NOW, None, SETTINGS.churn_risk.model_copy(update=model))


def test_churn_risk_right_after_a_first_order() -> None:
    # P(alive) = 1 / (1 + a / b) = 2/3; P(buy within 90 days | alive) = 1 - 60 / (60 + 90) = 0.6
    assert _risk([], 0) == 0.6
    assert _risk([], 0, horizon=timedelta(days=30)) == round(1 - 2 / 3 * (1 - 60 / 90), 4)


def test_churn_risk_grows_with_silence_and_stays_in_0_1() -> None:
    by_silence = [_risk([30, 30, 30], d) for d in range(0, 2000, 25)]
    assert by_silence == sorted(by_silence)
    assert by_silence[-1] > 0.99
    assert all(0 <= r <= 1 for r in by_silence)


def test_churn_risk_is_relative_to_the_customers_own_rhythm() -> None:
    weekly, twice_a_year = [7] * 9, [180, 180]
    assert _risk(weekly, 3) < 0.2
    assert _risk(weekly, 60) > 0.8  # two months of silence are long for a weekly buyer
    assert _risk(twice_a_year, 60) < _risk(weekly, 60)  # and nothing unusual for a twice-a-year one
    assert _risk(weekly, 3) < _risk([], 3)  # loyalty lowers the risk


def _hits(outcomes: list[Any]) -> list[list[str]]:
    return [[h.occurrence for h in o.hits if h.scenario == LIFE] for o in outcomes]


def test_orders_move_the_stage_and_each_change_is_a_hit_with_from_and_to() -> None:
    world = _world()
    outcomes = run(
        world,
        CustomerState.new("M1"),
        make_event("customer.registered", NOW - 90 * DAY, {"name": "王女士"}),
        order(NOW - 60 * DAY, "O1", ("PRO-900", 1)),
        order(NOW - 30 * DAY, "O2", ("PRO-900", 1)),
        refund(NOW - 29 * DAY, "O2"),
    )
    first_order, second_order = (NOW - 60 * DAY).isoformat(), (NOW - 30 * DAY).isoformat()
    assert _hits(outcomes) == [
        [],
        [f"registered>new:{first_order}"],
        [f"new>loyal:{second_order}"],
        [f"loyal>new:{(NOW - 29 * DAY).isoformat()}"],
    ]
    hit = outcomes[2].hits[0]
    assert (hit.evidence["from"], hit.evidence["to"], hit.evidence["orders"]) == ("new", "loyal", 2)
    assert hit.at == NOW - 30 * DAY
    assert set(hit.evidence) == set(SAMPLE_EVIDENCE[LIFE])
    assert outcomes[-1].state.profile.lifecycle == "new"


def test_time_passing_makes_a_customer_dormant_then_churned_and_an_order_brings_them_back() -> None:
    world = _world(default_interval_days=30, grace="1d")  # dormant after 60 days, churned after 120
    bought = NOW - 100 * DAY
    state = run(world, CustomerState.new("M1"), order(bought, "O1", ("VITC-60", 1)), now=bought)[-1].state
    timer = state.timers["life:standing"]
    assert timer.due_at == bought + 61 * DAY
    assert timer.data["at"] == (bought + 60 * DAY).isoformat()
    [dormant] = run(world, state, fire(state, "life:standing"), now=timer.due_at)
    [hit] = dormant.hits
    assert (hit.occurrence, hit.at) == (f"new>dormant:{(bought + 60 * DAY).isoformat()}", bought + 60 * DAY)
    assert hit.evidence["days_since_last_order"] == 60
    state = dormant.state
    assert state.timers["life:standing"].due_at == bought + 121 * DAY
    [churned] = run(world, state, fire(state, "life:standing"), now=bought + 121 * DAY)
    assert [h.evidence["to"] for h in churned.hits] == ["churned"]
    assert "life:standing" not in churned.state.timers  # nothing further happens by itself
    [back] = run(world, churned.state, order(bought + 130 * DAY, "O2", ("VITC-60", 1)))
    assert [(h.evidence["from"], h.evidence["to"]) for h in back.hits] == [("churned", "loyal")]


def test_a_store_order_uploaded_late_but_within_the_grace_prevents_a_false_dormancy() -> None:
    world = _world(default_interval_days=30, grace="1d")
    bought = NOW - 100 * DAY
    state = run(world, CustomerState.new("M1"), order(bought, "O1", ("VITC-60", 1)))[-1].state
    crossing = bought + 60 * DAY
    # A store order from an hour before the crossing is uploaded 20 hours later.
    late = order(crossing - DAY / 24, "O2", ("VITC-60", 1))
    outcome = run(world, state, late, now=crossing + DAY * 20 / 24)[-1]
    assert _hits([outcome]) == [[f"new>loyal:{(crossing - DAY / 24).isoformat()}"]]
    stale = fire(state, "life:standing")
    assert run(world, outcome.state, stale, now=crossing + DAY)[-1].duplicate  # the old timer moved


def test_late_and_on_time_arrival_give_the_same_hits() -> None:
    world = _world()
    events = [order(NOW - 50 * DAY, "O1", ("PRO-900", 1)), order(NOW - 20 * DAY, "O2", ("PRO-900", 1))]
    chat = make_event("chat.message", NOW - 20 * DAY + timedelta(hours=3), {"text": "好的"})
    on_time = run(world, CustomerState.new("M1"), events[0], events[1], chat)
    late = run(world, CustomerState.new("M1"), events[0], chat, events[1])  # the store uploaded O2 after the chat
    assert sorted(h for hits in _hits(on_time) for h in hits) == sorted(h for hits in _hits(late) for h in hits)
    assert on_time[-1].state.profile.lifecycle == late[-1].state.profile.lifecycle == "loyal"
    assert on_time[-1].state.timers == late[-1].state.timers


def test_without_lifecycle_settings_stages_are_counted_and_nothing_fires() -> None:
    outcomes = run(
        make_world(), CustomerState.new("M1"), order(NOW, "O1", ("PRO-900", 1)), order(NOW + DAY, "O2", ("X", 1))
    )
    assert [o.state.profile.lifecycle for o in outcomes] == ["new", "loyal"]
    assert "life:standing" not in outcomes[-1].state.timers
    assert all(h.scenario != LIFE for o in outcomes for h in o.hits)


def test_the_profile_holds_stage_and_risk_for_journeys() -> None:
    state = run(_world(), CustomerState.new("M1"), order(NOW, "O1", ("PRO-900", 1)))[-1].state
    assert (state.profile.lifecycle, state.profile.churn_risk) == ("new", 0.6)


def _at(days_ago: float) -> datetime:
    return NOW - days_ago * DAY


def test_registration_alone_is_no_change() -> None:
    registered: Event = make_event("customer.registered", _at(10), {"name": "李"})
    [outcome] = run(_world(), CustomerState.new("M1"), registered)
    assert outcome.hits == ()
    assert outcome.state.profile.lifecycle == "registered"


def test_an_order_uploaded_after_the_grace_does_not_swing_the_stage() -> None:
    world = _world(default_interval_days=30, grace="1d")  # dormant 60 days after the last order
    bought = NOW - 100 * DAY
    state = run(world, CustomerState.new("M1"), order(bought - 30 * DAY, "O0", ("VITC-60", 1)))[-1].state
    state = run(world, state, order(bought, "O1", ("VITC-60", 1)))[-1].state
    assert state.profile.lifecycle == "loyal"
    crossing = bought + 60 * DAY
    [dormant] = run(world, state, fire(state, "life:standing"), now=crossing + DAY)
    assert [h.evidence["to"] for h in dormant.hits] == ["dormant"]
    # A store order from two days before the crossing arrives three days late.
    [late] = run(world, dormant.state, order(crossing - 2 * DAY, "O2", ("VITC-60", 1)), now=crossing + 3 * DAY)
    assert _hits([late]) == [[]]  # in event-time order the customer never left: no "dormant → loyal"
    assert late.state.profile.lifecycle == "loyal"
    assert datetime.fromisoformat(late.state.timers["life:standing"].data["at"]) > crossing + 40 * DAY  # from O2
    [back] = run(world, late.state, order(crossing + 70 * DAY, "O3", ("VITC-60", 1)), now=crossing + 70 * DAY)
    assert _hits([back]) == [[]]  # loyal already: a later order changes nothing


def test_an_order_after_the_crossing_is_a_return() -> None:
    world = _world(default_interval_days=30, grace="1d")
    bought = NOW - 100 * DAY
    state = run(world, CustomerState.new("M1"), order(bought - 30 * DAY, "O0", ("VITC-60", 1)))[-1].state
    state = run(world, state, order(bought, "O1", ("VITC-60", 1)))[-1].state
    crossing = bought + 60 * DAY
    dormant = run(world, state, fire(state, "life:standing"), now=crossing + DAY)[-1].state
    [back] = run(world, dormant, order(crossing + 5 * DAY, "O2", ("VITC-60", 1)), now=crossing + 5 * DAY)
    assert [(h.evidence["from"], h.evidence["to"]) for h in back.hits if h.scenario == LIFE] == [("dormant", "loyal")]
