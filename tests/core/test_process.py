"""process(): dedupe, determinism, state versioning."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from orchestrator.core import CustomerState, dedupe
from tests.builders import NOW, fire, make_event, make_world, order, run

DAY = timedelta(days=1)


def test_a_redelivered_event_is_a_duplicate_and_changes_nothing() -> None:
    world = make_world()
    event = order(NOW, "O1", ("PRO-900", 1))
    first, second = run(world, CustomerState.new("M1"), event, event)
    assert not first.duplicate
    assert first.state.version == 1
    assert second.duplicate
    assert second.state == first.state
    assert second.timers_set == ()


def test_unknown_event_types_are_accepted_and_folded_as_activity() -> None:
    [outcome] = run(make_world(), CustomerState.new("M1"), make_event("store.visited", NOW, {"store": "SH-01"}))
    assert outcome.state.profile.last_event_at == NOW
    assert dedupe.seen(outcome.state, "store.visited@" + NOW.isoformat())


def test_the_profile_folds_identity_orders_and_registration() -> None:
    registered = make_event("customer.registered", NOW - DAY, {"name": "王女士", "tz": "Asia/Urumqi"}, phone="+86138")
    outcomes = run(make_world(), CustomerState.new("M1"), registered, order(NOW, "O1", ("PRO-900", 2)))
    profile = outcomes[-1].state.profile
    assert (profile.name, profile.tz, profile.orders, profile.spent, profile.lifecycle) == (
        "王女士",
        "Asia/Urumqi",
        1,
        100.0,
        "new",
    )
    assert profile.identity == {"member_id": "M1", "phone": "+86138"}


@given(
    days_ago=st.lists(st.integers(min_value=0, max_value=120), min_size=1, max_size=6),
    qty=st.integers(min_value=1, max_value=4),
)
def test_same_inputs_give_the_same_outcomes(days_ago: list[int], qty: int) -> None:
    world = make_world()
    events = [order(NOW - d * DAY, f"O{i}", ("PRO-900", qty), member="M1") for i, d in enumerate(days_ago)]
    first = run(
        world,
        CustomerState.new(
            "M1",
        ),
        *events,
    )
    second = run(world, CustomerState.new("M1"), *events)
    assert first == second
    state = first[-1].state
    if "cycle:protein" in state.timers:
        fired_once = run(world, state, fire(state, "cycle:protein"), fire(state, "cycle:protein"))
        assert fired_once[1].duplicate
        assert fired_once[1].actions == ()
