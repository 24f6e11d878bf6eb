"""consumption_cycle_ending: scheduling from orders, moving, cancelling, firing once."""

from __future__ import annotations

from datetime import timedelta

import pytest

from orchestrator.core import CustomerState
from tests.builders import NOW, fire, make_event, make_world, order, refund, run

DAY = timedelta(days=1)


def test_an_order_schedules_the_cycle_lead_days_before_run_out() -> None:
    [outcome] = run(make_world(), CustomerState.new("M1"), order(NOW, "O1", ("PRO-900", 2)))
    [timer] = outcome.timers_set
    assert timer.id == "cycle:protein"
    assert timer.due_at == NOW + 60 * DAY - 5 * DAY
    assert timer.data["run_out"] == (NOW + 60 * DAY).isoformat()
    assert outcome.actions == ()


def test_stock_carries_over_when_reordering_before_run_out() -> None:
    outcomes = run(
        make_world(),
        CustomerState.new("M1"),
        order(NOW, "O1", ("PRO-900", 1)),
        order(NOW + 10 * DAY, "O2", ("PRO-450", 1)),
    )
    [timer] = outcomes[-1].timers_set
    # 30 days from the first tin, then 15 more from the second; lead of the latest SKU.
    assert timer.due_at == NOW + 45 * DAY - 3 * DAY


def test_an_order_after_run_out_starts_a_new_cycle() -> None:
    outcomes = run(
        make_world(),
        CustomerState.new("M1"),
        order(NOW - 100 * DAY, "O1", ("PRO-900", 1)),
        order(NOW, "O2", ("PRO-900", 1)),
    )
    assert outcomes[-1].state.timers["cycle:protein"].due_at == NOW + 25 * DAY


def test_categories_are_independent_and_unknown_skus_ignored() -> None:
    [outcome] = run(
        make_world(),
        CustomerState.new("M1"),
        order(NOW, "O1", ("PRO-900", 1), ("VITC-60", 1), ("TSHIRT", 3)),
    )
    assert sorted(t.id for t in outcome.timers_set) == ["cycle:protein", "cycle:vitamin"]


def test_a_refund_cancels_the_cycle() -> None:
    outcomes = run(make_world(), CustomerState.new("M1"), order(NOW, "O1", ("PRO-900", 1)), refund(NOW, "O1"))
    assert outcomes[-1].timers_cancelled == ("cycle:protein",)
    assert outcomes[-1].state.timers == {}


def test_a_refund_that_arrives_before_its_order_still_counts() -> None:
    outcomes = run(make_world(), CustomerState.new("M1"), refund(NOW, "O1"), order(NOW - DAY, "O1", ("PRO-900", 1)))
    assert outcomes[-1].state.timers == {}
    assert outcomes[-1].timers_set == ()


def test_a_late_arriving_order_gives_the_same_schedule_as_one_on_time() -> None:
    early, late = order(NOW - 20 * DAY, "O1", ("PRO-900", 1)), order(NOW, "O2", ("PRO-900", 1))
    in_order = run(make_world(), CustomerState.new("M1"), early, late)[-1].state.timers
    reversed_ = run(make_world(), CustomerState.new("M1"), late, early)[-1].state.timers
    assert in_order == reversed_


def test_the_fired_timer_is_a_hit_with_evidence_and_one_action() -> None:
    world = make_world()
    registered = make_event("customer.registered", NOW - 40 * DAY, {"name": "王女士"}, wecom_external_id="wm1")
    state = run(world, CustomerState.new("M1"), registered)[-1].state
    state = run(world, state, order(NOW - 27 * DAY, "O1", ("PRO-900", 1)))[-1].state
    [outcome] = run(world, state, fire(state, "cycle:protein"))
    [hit] = outcome.hits
    assert hit.scenario == "consumption_cycle_ending"
    assert hit.occurrence == f"protein:{(NOW + 3 * DAY).date().isoformat()}"
    assert hit.evidence["days_left"] == 3
    assert hit.evidence["sku"] == "PRO-900"
    [action] = outcome.actions
    assert action.channel == "wecom_private"
    assert action.to == {"wecom_external_id": "wm1"}
    assert action.content == {"text": "remind.j2|王女士|3"}
    assert action.action_id.startswith("replenish:1:i")
    assert action.action_id.endswith(":remind:M1")
    assert action.not_after == NOW + DAY


def test_a_timer_fires_once() -> None:
    world = make_world()
    state = run(world, CustomerState.new("M1"), order(NOW - 27 * DAY, "O1", ("PRO-900", 1), member="M1"))[-1].state
    timer = fire(state, "cycle:protein")
    first, second = run(world, state, timer, timer)
    assert len(first.hits) == 1
    assert second.duplicate
    assert second.hits == ()
    assert second.actions == ()


def test_recomputing_after_firing_does_not_fire_the_same_run_out_again() -> None:
    world = make_world()
    state = run(world, CustomerState.new("M1"), order(NOW - 27 * DAY, "O1", ("PRO-900", 1), ("VITC-60", 1)))[-1].state
    state = run(world, state, fire(state, "cycle:protein"))[-1].state
    outcome = run(world, state, order(NOW, "O2", ("TSHIRT", 1)), refund(NOW, "O9"))[-1]
    assert "cycle:protein" not in outcome.state.timers
    assert outcome.timers_set == ()


def test_a_timer_moved_later_does_not_fire_early() -> None:
    world = make_world()
    state = run(world, CustomerState.new("M1"), order(NOW - 27 * DAY, "O1", ("PRO-900", 1)))[-1].state
    stale = fire(state, "cycle:protein")
    state = run(world, state, order(NOW, "O2", ("PRO-900", 1)))[-1].state
    [outcome] = run(world, state, stale)
    assert outcome.duplicate
    assert outcome.hits == ()


@pytest.mark.parametrize(("days_ago", "fires"), [(27, True), (36, True), (38, False)])
def test_a_run_out_long_past_is_history_not_a_moment(days_ago: int, fires: bool) -> None:
    world = make_world()
    state = run(world, CustomerState.new("M1"), order(NOW - days_ago * DAY, "O1", ("PRO-900", 1)))[-1].state
    [outcome] = run(world, state, fire(state, "cycle:protein"))
    assert bool(outcome.hits) is fires
