"""A journey's lifecycle: draft, live, paused, stopped, and its start_at / end_at window."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from orchestrator.core import CustomerState, JourneySpec
from tests.builders import CST, NOW, fire, journey, make_event, make_world, run

CHAT = {"event": "chat.message"}
SEND = {"id": "hi", "send": {"channel": "wecom_private", "template": "hi.j2"}}
WAIT = {"id": "later", "wait": "1d"}
BYE = {"id": "bye", "send": {"channel": "wecom_private", "template": "bye.j2"}}


def _chat(at: datetime, n: int = 0) -> Any:
    return make_event("chat.message", at, {"text": "在吗"}, id_=f"chat-{n}", wecom_external_id="wm1")


def _journey(version: int = 1, **fields: Any) -> JourneySpec:
    return journey(trigger=CHAT, steps=[SEND, WAIT, BYE], version=version, **fields)


def _sent(outcomes: list[Any]) -> list[str]:
    return [a.journey.step for o in outcomes for a in o.actions]


@pytest.mark.parametrize(
    ("status", "enters"), [("live", True), ("draft", False), ("paused", False), ("stopped", False)]
)
def test_only_a_live_journey_takes_entries(status: str, enters: bool) -> None:
    world = make_world(_journey(status=status))
    assert _sent(run(world, CustomerState.new("M1"), _chat(NOW))) == (["hi"] if enters else [])


def test_a_draft_version_does_not_replace_the_live_one() -> None:
    world = make_world(_journey(1), _journey(2, status="draft"))
    [outcome] = run(world, CustomerState.new("M1"), _chat(NOW))
    [action] = outcome.actions
    assert action.journey.version == 1


def test_paused_lets_running_instances_finish_stopped_ends_them() -> None:
    live = make_world(_journey())
    [entered] = run(live, CustomerState.new("M1"), _chat(NOW))
    timer_id = next(t for t in entered.state.timers if t.startswith("wait:"))
    tomorrow = NOW + timedelta(days=1)
    paused = make_world(_journey(status="paused"))
    assert _sent(run(paused, entered.state, fire(entered.state, timer_id), now=tomorrow)) == ["bye"]
    stopped = make_world(_journey(status="stopped"))
    [ended] = run(stopped, entered.state, fire(entered.state, timer_id), now=tomorrow)
    assert ended.actions == ()
    assert ended.state.instances == {}
    assert ("stopped", "replenish", 1) in ended.journey_events
    [on_event] = run(stopped, entered.state, _chat(NOW + timedelta(hours=1), 2))
    assert on_event.state.instances == {}  # an event for the customer ends it too


def test_entries_only_inside_start_at_and_end_at() -> None:
    start, end = datetime(2026, 11, 20, 0, 0, tzinfo=CST), datetime(2026, 11, 21, 0, 0, tzinfo=CST)
    world = make_world(_journey(start_at=start.isoformat(), end_at=end.isoformat()))
    before = run(world, CustomerState.new("M1"), _chat(start - timedelta(minutes=1)), now=start - timedelta(minutes=1))
    inside = run(world, CustomerState.new("M2"), _chat(start), now=start)
    after = run(world, CustomerState.new("M3"), _chat(end), now=end)
    assert (_sent(before), _sent(inside), _sent(after)) == ([], ["hi"], [])


def test_the_window_must_be_a_window() -> None:
    with pytest.raises(ValidationError, match="end_at 2026-11-20T00:00:00\\+08:00 must come after start_at"):
        _journey(start_at="2026-11-21T00:00:00+08:00", end_at="2026-11-20T00:00:00+08:00")
    with pytest.raises(ValidationError, match="timezone"):
        _journey(start_at="2026-11-21T00:00:00")


def test_the_window_is_judged_at_the_events_time_not_when_it_arrives() -> None:
    end = datetime(2026, 11, 21, 0, 0, tzinfo=CST)
    world = make_world(_journey(end_at=end.isoformat()))
    late_upload = _chat(end - timedelta(hours=1))  # happened inside the window, processed after it
    assert _sent(run(world, CustomerState.new("M1"), late_upload, now=end + timedelta(hours=2))) == ["hi"]
