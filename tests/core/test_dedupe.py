"""A seen event id with other content is a conflicting duplicate (DLQ), not a silent drop; a
redelivery stays a quiet duplicate, whatever the key order or source; ids are kept hashed
(form 5); states of forms 3 (no digests) and 4 (ids in clear) load, and their seen ids stay
seen (without a digest: redeliveries)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orchestrator.core import CustomerState, Event, dedupe, parse_event
from orchestrator.core.migrations import dump_state, load_state
from orchestrator.core.state import SEEN_WINDOW, STATE_SCHEMA
from orchestrator.core.view import plain
from orchestrator.errors import InputError
from tests.builders import NOW, make_event, make_world, run

FORM_3 = Path(__file__).resolve().parents[1] / "fixtures" / "states" / "form-3.jsonl"
FORM_4 = Path(__file__).resolve().parents[1] / "fixtures" / "states" / "form-4.jsonl"


def _lines(path: Path) -> list[bytes]:
    return [line for line in path.read_bytes().splitlines() if line.strip()]


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
    assert len(state.seen_digests) == SEEN_WINDOW
    assert state.seen == ()  # event ids are not kept in clear
    assert all(len(entry) == 24 for entry in state.seen_digests)
    assert not dedupe.seen(state, "e0")
    assert dedupe.seen(state, "e10")
    assert dedupe.seen(state, f"e{SEEN_WINDOW + 9}")


def _legacy(ids: list[str]) -> list[str]:
    return [dedupe.id_hash(i) + dedupe.LEGACY for i in dict.fromkeys(ids)]


def test_a_form_3_state_loads_and_its_seen_ids_stay_redeliveries() -> None:
    lines = _lines(FORM_3)
    assert len(lines) >= 50
    for raw in lines:
        old = json.loads(raw)
        assert old["schema_version"] == 3
        state = load_state(raw)
        again = plain(state)
        expected = {**old, "schema_version": STATE_SCHEMA, "seen": [], "seen_digests": _legacy(old["seen"])}
        assert again == expected
    old = json.loads(lines[0])
    state = load_state(lines[0])
    seen_id = old["seen"][-1]
    member = state.profile.identity.get("member_id", state.customer_id)
    other = make_event("x_other", NOW, {"changed": True}, id_=seen_id, member=member)
    [outcome] = run(make_world(), state, other)  # no digest to compare with: a redelivery
    assert outcome.duplicate


def test_a_form_4_state_loads_with_its_ids_hashed_and_merge_steps_kept() -> None:
    lines = _lines(FORM_4)
    assert len(lines) >= 50
    merged = before = after = 0
    for raw in lines:
        old = json.loads(raw)
        assert old["schema_version"] == 4
        state = load_state(raw)
        again = plain(state)
        steps = [i for i in old["seen"] if i.startswith(("merge:", "absorb:"))]
        merged += bool(steps)
        events = [i for i in old["seen"] if i not in steps]
        without_digest = [i for i in events if dedupe.id_hash(i) not in {d[:12] for d in old["seen_digests"]}]
        digests = [*_legacy(without_digest), *old["seen_digests"]][-SEEN_WINDOW:]
        assert again == {**old, "schema_version": STATE_SCHEMA, "seen": steps, "seen_digests": digests}
        assert all(dedupe.seen(state, i) for i in events)
        before, after = before + len(raw), after + len(dump_state(state).encode())
    assert after < before  # ids in clear took more than their hashes
    assert merged  # the fixture holds a merged customer (its merge steps stay in clear)


def test_a_form_4_redelivery_and_conflict_behave_as_before() -> None:
    [raw] = [line for line in _lines(FORM_4) if b'"seen_digests":["' in line][:1]
    old = json.loads(raw)
    state = load_state(raw)
    member = state.profile.identity.get("member_id", state.customer_id)
    seen_id = old["seen"][-1]
    other = make_event("x_other", NOW, {"changed": True}, id_=seen_id, member=member)
    with pytest.raises(InputError, match="conflicting duplicate"):  # its digest was kept: a conflict, as in form 4
        run(make_world(), state, other)
    fresh = make_event("x_other", NOW, {"changed": True}, id_="never-seen", member=member)
    [outcome] = run(make_world(), state, fresh)
    assert not outcome.duplicate
