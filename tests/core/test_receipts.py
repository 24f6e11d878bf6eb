"""Receipts from a channel move journeys: a reply ends a wait_for, a failed send takes on_failed."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from orchestrator.channels.contract import FailureReason, ReceiptType, make_receipt
from orchestrator.core import Action, CustomerState, Event, Outcome, World
from tests.builders import NOW, FakeConditions, journey, make_event, make_world, run
from tests.config.helpers import problems

HOUR = timedelta(hours=1)
REMIND = {"id": "remind", "send": {"channel": "wecom_private", "template": "a.j2", "on_failed": "sms"}}
WAIT = {"id": "wait_reply", "wait_for": {"event": "message.replied", "timeout": "2d", "on_timeout": "sms"}}
THANKS = {"id": "thanks", "send": {"channel": "wecom_private", "template": "t.j2"}, "next": "done"}
SMS = {"id": "sms", "send": {"channel": "sms", "template": "sms.j2"}}
DONE = {"id": "done", "exit": True}


def _world() -> World:
    spec = journey(trigger={"event": "chat.message"}, steps=[REMIND, WAIT, THANKS, SMS, DONE])
    return make_world(spec, conditions=FakeConditions(None))


def _entered(world: World) -> Outcome:
    identity = {"wecom_external_id": "wm1", "phone": "+8613800000001"}
    known = run(world, CustomerState.new("M1"), make_event("customer.registered", NOW - HOUR, {}, **identity))[-1]
    return run(world, known.state, make_event("chat.message", NOW, {"text": "你好"}, id_="chat-1"))[-1]


def _receipt(action: Action, kind: ReceiptType, **data: Any) -> Event:
    receipt = make_receipt(action, kind, NOW + HOUR, **data)
    return Event.model_validate(receipt.model_dump(mode="json", exclude_none=True))


def test_a_failed_receipt_for_the_instances_send_takes_its_on_failed_step() -> None:
    world = _world()
    entered = _entered(world)
    [remind] = entered.actions
    failed = run(world, entered.state, _receipt(remind, "message.failed", reason=FailureReason.unreachable))[-1]
    assert [(a.journey.step, a.channel) for a in failed.actions] == [("sms", "sms")]
    assert failed.state.instances == {}  # sms was the path's end
    assert failed.timers_cancelled  # the reply wait's timeout is gone


def test_a_reply_receipt_moves_the_wait_on_and_a_stray_failure_does_nothing() -> None:
    world = _world()
    entered = _entered(world)
    [remind] = entered.actions
    other = remind.model_copy(update={"action_id": "other-journey:1:ixyz:remind:M1"})
    stray = run(world, entered.state, _receipt(other, "message.failed", reason=FailureReason.expired))[-1]
    assert stray.actions == ()
    assert stray.state.instances == entered.state.instances
    replied = run(world, stray.state, _receipt(remind, "message.replied", text="好的"))[-1]
    assert [a.journey.step for a in replied.actions] == ["thanks"]
    again = run(world, replied.state, _receipt(remind, "message.replied", text="好的"))[-1]
    assert again.duplicate  # the same receipt twice (a re-produced copy) is seen once


def test_on_failed_must_name_a_step(tmp_path: Path) -> None:
    (tmp_path / "journeys").mkdir()
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "t.j2").write_text("hi", encoding="utf-8")
    (tmp_path / "journeys" / "j.yaml").write_text(
        "id: j\nname: 测试\nversion: 1\ntrigger: {scenario: consumption_cycle_ending}\nsteps:\n"
        "  - id: remind\n    send: {channel: wecom_private, template: t.j2, on_failed: gone}\n",
        encoding="utf-8",
    )
    assert problems(tmp_path) == ["journeys/j.yaml:7:52: steps[0].send.on_failed: no step with id 'gone'"]
