"""WeCom staff ownership: the owner is named on sends and tasks; a handover moves a pending task."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from orchestrator.core import CustomerState, World, dedupe
from orchestrator.core.migrations import load_state
from orchestrator.core.state import STATE_SCHEMA
from orchestrator.core.view import plain
from tests.builders import NOW, FakeConditions, journey, make_event, make_world, run

REPO = Path(__file__).resolve().parents[2]
FORM_2 = REPO / "tests" / "fixtures" / "states" / "form-2.jsonl"
HOUR = timedelta(hours=1)
GREET = {"id": "greet", "send": {"channel": "wecom_private", "template": "a.j2"}}
TASK = {"id": "call_back", "task": {"channel": "wecom_private", "template": "t.j2", "sla": "4h"}}


def _world() -> World:
    spec = journey(trigger={"event": "chat.message"}, steps=[GREET, TASK])
    return make_world(spec, conditions=FakeConditions(None))


def _owned(world: World, staff: str = "S-li") -> CustomerState:
    state = CustomerState.new("M1")
    registered = make_event("customer.registered", NOW - 2 * HOUR, {}, wecom_external_id="wm1")
    added = make_event("contact.added", NOW - HOUR, {"staff_id": staff}, id_="added")
    return run(world, state, registered, added)[-1].state


def test_sends_and_tasks_name_the_staff_member_who_owns_the_contact() -> None:
    world = _world()
    state = _owned(world)
    assert state.profile.owner == "S-li"
    entered = run(world, state, make_event("chat.message", NOW, {"text": "在吗"}, id_="chat"))[-1]
    assert [(a.channel, a.to) for a in entered.actions] == [
        ("wecom_private", {"wecom_external_id": "wm1", "staff_id": "S-li"}),
        ("task", {"member_id": "M1", "staff_id": "S-li"}),
    ]


def test_a_handover_moves_the_pending_task_to_the_new_owner() -> None:
    world = _world()
    entered = run(world, _owned(world), make_event("chat.message", NOW, {"text": "在吗"}, id_="chat"))[-1]
    old_task = entered.actions[-1]
    handover = make_event("staff.handover", NOW + HOUR, {"from_staff": "S-li", "to_staff": "S-wang"}, id_="ho")
    moved = run(world, entered.state, handover, now=NOW + HOUR)[-1]
    assert moved.state.profile.owner == "S-wang"
    [task] = moved.actions
    assert task.channel == "task"
    assert task.to["staff_id"] == "S-wang"
    assert task.action_id != old_task.action_id  # a new task for the new owner
    assert task.content["due_at"] == (NOW + 5 * HOUR).isoformat()  # with a fresh SLA
    [instance] = moved.state.instances.values()
    assert instance.task == task.action_id
    # The old owner's report no longer moves the instance; the new owner's does.
    stale = make_event("task.completed", NOW + 2 * HOUR, {"action_id": old_task.action_id}, id_="stale")
    assert run(world, moved.state, stale, now=NOW + 2 * HOUR)[-1].state.instances == moved.state.instances
    done = make_event("task.completed", NOW + 2 * HOUR, {"action_id": task.action_id}, id_="done")
    assert run(world, moved.state, done, now=NOW + 2 * HOUR)[-1].state.instances == {}


def test_a_handover_with_nothing_pending_only_changes_the_owner() -> None:
    world = _world()
    handover = make_event("staff.handover", NOW, {"to_staff": "S-wang"}, id_="ho")
    outcome = run(world, _owned(world), handover)[-1]
    assert outcome.actions == ()
    assert outcome.state.profile.owner == "S-wang"


def test_form_2_states_load_with_no_owner_and_keep_everything_else() -> None:
    lines = [line for line in FORM_2.read_bytes().splitlines() if line.strip()]
    assert len(lines) >= 10
    for raw in lines:
        old = json.loads(raw)
        assert old["schema_version"] == 2
        assert "owner" not in old["profile"]
        state = load_state(raw)
        again = plain(state)
        assert again["schema_version"] == STATE_SCHEMA == 5
        assert again["profile"].pop("owner") is None
        assert all(dedupe.seen(state, i) for i in old["seen"])  # form 5: hashed (tests/core/test_dedupe.py)
        changed = ("schema_version", "seen", "seen_digests")
        assert {k: again[k] for k in old if k not in changed} == {k: v for k, v in old.items() if k not in changed}
