"""A seen event id with other content is a conflicting duplicate (DLQ), not a silent drop; a
redelivery stays a quiet duplicate, whatever the key order or source; states of form 1 (no
digests) load, and their seen ids count as redeliveries."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orchestrator.core import CustomerState, Event, parse_event
from orchestrator.core.migrations import load_state
from orchestrator.core.state import SEEN_WINDOW, STATE_SCHEMA
from orchestrator.errors import InputError
from tests.builders import NOW, make_event, make_world, run

FORM_3 = Path(__file__).resolve().parents[1] / "fixtures" / "states" / "form-3.jsonl"


def _paid(amount: float, **extra: object) -> Event:
    return make_event("order.paid", NOW, {"order_id": "O1", "amount": amount, **extra}, id_="pay-1")


def test_a_redelivery_is_a_quiet_duplicate() -> None:
    first, again = run(make_world(), CustomerState.new("M1"), _paid(99.0), _paid(99.0))
    assert again.duplicate
    assert again.state == first.state
    assert len(first.state.seen_digests) == 1


def test_the_same_id_with_other_content_is_a_conflicting_duplicate() -> None:
    [first] = run(make_world(), CustomerState.new("M1"), _paid(99.0))
    with pytest.raises(InputError, match="conflicting duplicate: event id 'pay-1' was processed before") as caught:
        run(make_world(), first.state, _paid(9999.0))
    assert caught.value.code == "conflict"


def test_key_order_whitespace_and_source_do_not_make_a_conflict() -> None:
    [first] = run(make_world(), CustomerState.new("M1"), _paid(99.0, note="a", extra={"x": 1, "y": 2}))
    payload = {
        "source": "another-relay",
        "data": {"extra": {"y": 2, "x": 1}, "note": "a", "amount": 99.0, "order_id": "O1"},
        "identity": {"member_id": "M1"},
        "time": NOW.isoformat(),
        "type": "order.paid",
        "id": "pay-1",
    }
    [again] = run(make_world(), first.state, parse_event(json.loads(json.dumps(payload, indent=2))))
    assert again.duplicate


def test_digests_are_kept_for_the_seen_window_only() -> None:
    events = [make_event("x_ping", NOW, {"n": n}, id_=f"e{n}") for n in range(SEEN_WINDOW + 10)]
    state = run(make_world(), CustomerState.new("M1"), *events)[-1].state
    assert len(state.seen) == len(state.seen_digests) == SEEN_WINDOW


def test_a_form_3_state_loads_and_its_seen_ids_stay_redeliveries() -> None:
    lines = [line for line in FORM_3.read_bytes().splitlines() if line.strip()]
    assert len(lines) >= 50
    for raw in lines:
        old = json.loads(raw)
        assert old["schema_version"] == 3
        state = load_state(raw)
        again = json.loads(state.model_dump_json())
        assert again == {**old, "schema_version": STATE_SCHEMA, "seen_digests": []}
    state = load_state(lines[0])
    [seen_id] = state.seen[-1:]
    member = state.profile.identity.get("member_id", state.customer_id)
    other = make_event("x_other", NOW, {"changed": True}, id_=seen_id, member=member)
    [outcome] = run(make_world(), state, other)  # no digest to compare with: a redelivery
    assert outcome.duplicate
