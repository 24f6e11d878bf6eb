"""Retention keeps what a returning customer is owed: consent refusals, entry history, dedupe."""

from __future__ import annotations

from datetime import timedelta

from orchestrator.core import CustomerState
from orchestrator.core.migrations import dump_state
from orchestrator.core.retention import is_inactive, minimal
from orchestrator.core.state import Instance, Profile
from tests.builders import NOW, journey, make_event, make_world, order, run

WORLD = make_world(
    journey(
        id="welcome",
        trigger={"event": "order.paid"},
        entry={"reentry": "never"},
        steps=[{"id": "hi", "send": {"channel": "sms", "template": "remind.j2"}}],
    )
)


def _customer() -> CustomerState:
    old = NOW - timedelta(days=800)
    events = [
        make_event("customer.registered", old, {}, id_="r", phone="+8613800000001"),
        order(old + timedelta(days=1), "O-1", ("PRO-900", 1)),
        make_event("consent.changed", old + timedelta(days=2), {"channel": "sms", "granted": False}, id_="c1"),
        make_event("consent.changed", old + timedelta(days=2), {"channel": "wecom_private", "granted": True}, id_="c2"),
    ]
    state = CustomerState.new("M1")
    for event in events:
        state = run(WORLD, state, event, now=event.time)[-1].state
    return state


def test_a_long_inactive_customer_keeps_only_what_it_is_owed() -> None:
    state = _customer()
    assert is_inactive(state, NOW, timedelta(days=730))
    assert not is_inactive(state, NOW, timedelta(days=900))
    small = minimal(state)
    assert small.version == state.version + 1
    assert small.profile == Profile(consent={"sms": False}, consent_at={"sms": state.profile.consent_at["sms"]})
    assert small.identifiers == state.identifiers  # the graph still routes them here
    assert small.last_entered == state.last_entered  # a reentry: never journey stays done
    assert small.seen == state.seen
    assert small.timers == {}
    assert len(dump_state(small)) < len(dump_state(state)) * 0.6
    assert not is_inactive(small, NOW, timedelta(days=1))  # nothing left to reduce


def test_running_journeys_and_erasures_are_not_swept() -> None:
    state = _customer()
    waiting = state.model_copy(update={"instances": {"i": _waiting_instance()}})
    assert not is_inactive(waiting, NOW, timedelta(days=1))
    forgotten = state.model_copy(update={"forgotten_at": NOW})
    assert not is_inactive(forgotten, NOW, timedelta(days=1))


def _waiting_instance() -> Instance:
    wait = journey(
        id="w",
        trigger={"event": "order.paid"},
        steps=[{"id": "pause", "wait": "3d"}, {"id": "hi", "send": {"channel": "sms", "template": "r.j2"}}],
    )
    [outcome] = run(make_world(wait), CustomerState.new("M1"), order(NOW, "O-2", ("PRO-900", 1)))
    [instance] = outcome.state.instances.values()
    return instance
