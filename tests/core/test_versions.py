"""Which journey version is in force at an instant: active_from judged by the processing time."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from orchestrator.core import CustomerState
from orchestrator.core.versions import Versions
from tests.builders import NOW, fire, journey, make_event, make_world, run

HOUR = timedelta(hours=1)
CHAT = {"event": "chat.message"}
SEND_A = {"id": "a", "send": {"channel": "wecom_private", "template": "a.j2"}}
SEND_SMS = {"id": "sms", "send": {"channel": "sms", "template": "sms.j2"}}
PAUSE = {"id": "pause", "wait": "2d"}


def _chat(at: Any = NOW) -> Any:
    return make_event("chat.message", at, {"text": "你好"}, id_=f"chat@{at.isoformat()}", wecom_external_id="wm1")


def _known() -> CustomerState:
    registered = make_event(
        "customer.registered", NOW - 30 * 24 * HOUR, {"name": "王女士"}, wecom_external_id="wm1", phone="+8613800000001"
    )
    return run(make_world(), CustomerState.new("M1"), registered)[-1].state


def test_a_version_takes_over_at_its_active_from_not_before() -> None:
    v1 = journey(version=1, trigger=CHAT, steps=[SEND_A])
    v2 = journey(version=2, trigger=CHAT, active_from=NOW + HOUR, steps=[SEND_SMS])
    world = make_world(v1, v2)
    assert world.current("replenish", NOW + HOUR - timedelta(microseconds=1)) is v1
    assert world.current("replenish", NOW + HOUR) is v2
    [before] = run(world, _known(), _chat(NOW), now=NOW)
    [after] = run(world, _known(), _chat(NOW + HOUR), now=NOW + HOUR)
    assert [(a.journey.version, a.journey.step) for a in before.actions] == [(1, "a")]
    assert [(a.journey.version, a.journey.step) for a in after.actions] == [(2, "sms")]


def test_the_processing_time_decides_not_the_events_time() -> None:
    """A late event processed after the switch enters the new version (every worker agrees on `now`)."""
    v1 = journey(version=1, trigger=CHAT, steps=[SEND_A])
    v2 = journey(version=2, trigger=CHAT, active_from=NOW + HOUR, steps=[SEND_SMS])
    [late] = run(make_world(v1, v2), _known(), _chat(NOW), now=NOW + 2 * HOUR)
    assert [a.journey.version for a in late.actions] == [2]


def test_a_running_instance_stays_on_the_version_it_entered() -> None:
    v1 = journey(version=1, trigger=CHAT, steps=[PAUSE, SEND_A])
    v2 = journey(version=2, trigger=CHAT, active_from=NOW + HOUR, steps=[PAUSE, SEND_SMS])
    world = make_world(v1, v2)
    waiting = run(world, _known(), _chat(NOW))[-1].state
    timer_id = next(t for t in waiting.timers if t.startswith("wait:"))
    [resumed] = run(world, waiting, fire(waiting, timer_id), now=NOW + 48 * HOUR)
    assert [(a.journey.version, a.journey.step) for a in resumed.actions] == [(1, "a")]


def test_migrate_rules_apply_once_the_new_version_is_in_force() -> None:
    v1 = journey(version=1, trigger=CHAT, steps=[PAUSE, SEND_A])
    v2 = journey(
        version=2,
        trigger=CHAT,
        active_from=NOW + 72 * HOUR,
        migrate={"from_version": 1, "steps": {"pause": "hold"}},
        steps=[{"id": "hold", "wait": "1d"}, SEND_SMS],
    )
    world = make_world(v1, v2)
    waiting = run(world, _known(), _chat(NOW))[-1].state
    timer_id = next(t for t in waiting.timers if t.startswith("wait:"))
    [early] = run(world, waiting, fire(waiting, timer_id), now=NOW + 48 * HOUR)  # v2 not in force yet
    assert [(a.journey.version, a.journey.step) for a in early.actions] == [(1, "a")]
    [late] = run(world, waiting, fire(waiting, timer_id), now=NOW + 80 * HOUR)
    assert ("migrated", "replenish", 2) in late.journey_events
    assert [(a.journey.version, a.journey.step) for a in late.actions] == [(2, "sms")]


def test_a_draft_never_takes_over_and_absent_active_from_means_now() -> None:
    v1 = journey(version=1, trigger=CHAT, steps=[SEND_A])
    v2 = journey(version=2, trigger=CHAT, status="draft", steps=[SEND_SMS])
    v3 = journey(version=3, trigger=CHAT, active_from=NOW + HOUR, status="draft", steps=[SEND_SMS])
    world = make_world(v1, v2, v3)
    assert world.current("replenish", NOW + 10 * HOUR) is v1
    assert make_world(v1, journey(version=2, trigger=CHAT, steps=[SEND_SMS])).current("replenish", NOW).version == 2


def test_a_journey_not_yet_announced_has_no_version_before_its_instant() -> None:
    first = journey(version=1, trigger=CHAT, active_from=NOW + HOUR, steps=[SEND_A])
    world = make_world(first)
    assert world.current("replenish", NOW) is None
    [quiet] = run(world, _known(), _chat(NOW), now=NOW)
    assert quiet.actions == ()


@given(
    st.lists(st.tuples(st.integers(1, 6), st.one_of(st.none(), st.integers(-5, 5))), min_size=1, max_size=6),
    st.integers(-6, 6),
)
def test_in_force_is_the_highest_version_whose_instant_has_passed(specs: list[tuple[int, int | None]], at: int) -> None:
    unique = dict(specs)
    journeys = [
        journey(version=v, trigger=CHAT, steps=[SEND_A], active_from=None if h is None else NOW + h * HOUR)
        for v, h in unique.items()
    ]
    now = NOW + at * HOUR
    eligible = [v for v, h in unique.items() if h is None or h <= at]
    chosen = Versions.of(journeys).at(now).get("replenish")
    assert (chosen.version if chosen else None) == (max(eligible) if eligible else None)
