"""Contact policy: quiet hours, business days, frequency caps and quotas, priority, fallback."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.core import CustomerState, World
from orchestrator.core.calendar import BusinessCalendar
from orchestrator.core.policy import ContactPolicy
from tests.builders import CST, NOW, FakeConditions, FakeRenderer, fire, journey, make_event, make_world, run

DAY = timedelta(days=1)
CHAT = {"event": "chat.message"}
NIGHT = datetime(2026, 11, 20, 23, 30, tzinfo=CST)
QUIET = {"quiet_hours": {"start": "21:00", "end": "09:00"}}


def _send(step_id: str = "a", channel: str = "wecom_private", **extra: Any) -> dict[str, Any]:
    return {"id": step_id, "send": {"channel": channel, "template": f"{step_id}.j2", **extra}}


def _world(*journeys: Any, policy: dict[str, Any] | None = None, calendar: BusinessCalendar | None = None) -> World:
    return World(
        journeys=tuple(journeys) or (journey(steps=[_send()], trigger=CHAT),),
        products=make_world().products,
        renderer=FakeRenderer(),
        conditions=FakeConditions(),
        calendar=calendar or BusinessCalendar(),
        policy=ContactPolicy.model_validate(policy or {}),
    )


def _customer() -> CustomerState:
    registered = make_event(
        "customer.registered", NOW - 30 * DAY, {"name": "王女士"}, wecom_external_id="wm1", phone="+8613800000001"
    )
    return run(make_world(), CustomerState.new("M1"), registered)[-1].state


def _chat(at: datetime, n: int = 0) -> Any:
    return make_event("chat.message", at, {"text": "在吗"}, id_=f"chat-{n}@{at.isoformat()}")


def test_a_send_at_night_is_deferred_to_the_end_of_quiet_hours_and_sent_once() -> None:
    world = _world(policy=QUIET)
    [night] = run(world, _customer(), _chat(NIGHT), now=NIGHT)
    assert night.actions == ()
    [deferral] = night.suppressed
    assert deferral.reason == "quiet_hours, deferred"
    assert deferral.deferred_until == datetime(2026, 11, 21, 9, 0, tzinfo=CST)
    timer_id = next(t for t in night.state.timers if t.startswith("wait:"))
    morning = datetime(2026, 11, 21, 9, 0, tzinfo=CST)
    [sent] = run(world, night.state, fire(night.state, timer_id), now=morning)
    [action] = sent.actions
    assert action.created_at == morning
    assert action.action_id.endswith(":a:M1")  # the same occurrence, not a second visit


def test_quiet_hours_follow_the_customers_time_zone() -> None:
    world = _world(policy=QUIET)
    moved = make_event("profile.updated", NOW, {"tz": "Europe/Berlin"})
    state = run(world, _customer(), moved)[-1].state
    [outcome] = run(world, state, _chat(NIGHT), now=NIGHT)  # 23:30 in Shanghai is 16:30 in Berlin
    assert len(outcome.actions) == 1


def test_business_days_only_respects_holidays_and_workday_weekends() -> None:
    calendar = BusinessCalendar(holidays=frozenset({date(2026, 10, 1)}), workdays=frozenset({date(2026, 10, 10)}))
    world = _world(policy={**QUIET, "business_days_only": True}, calendar=calendar)
    national_day = datetime(2026, 10, 1, 11, 0, tzinfo=CST)  # Thursday, a holiday
    [outcome] = run(world, _customer(), _chat(national_day), now=national_day)
    assert outcome.suppressed[0].deferred_until == datetime(2026, 10, 2, 9, 0, tzinfo=CST)
    saturday_workday = datetime(2026, 10, 10, 11, 0, tzinfo=CST)
    assert len(run(world, _customer(), _chat(saturday_workday), now=saturday_workday)[-1].actions) == 1


def test_a_cap_across_journeys_defers_until_a_slot_frees() -> None:
    two_days = journey(steps=[_send(expires_after="2d")], trigger=CHAT)  # the slot frees within its validity
    world = _world(two_days, policy={"caps": [{"per": "1d", "max": 2}]})
    outcomes = run(
        world,
        _customer(),
        _chat(NOW, 1),
        _chat(NOW + timedelta(hours=1), 2),
        _chat(NOW + timedelta(hours=2), 3),
        now=NOW + timedelta(hours=2),
    )
    assert [len(o.actions) for o in outcomes] == [1, 1, 0]
    [deferral] = outcomes[-1].suppressed
    assert deferral.reason.startswith("cap_all_2_per_86400s")
    assert deferral.deferred_until == NOW + timedelta(hours=2) + DAY


def test_a_cap_can_drop_instead_and_fall_back() -> None:
    policy = {
        "caps": [{"name": "wecom_mass_quota", "channel": "wecom_private", "per": "30d", "max": 1}],
        "on_cap": "drop",
    }
    fallback = {"fallback": {"channel": "sms", "template": "sms.j2"}}
    world = _world(journey(steps=[_send(**fallback)], trigger=CHAT, entry={"reentry": "always"}), policy=policy)
    first, second = run(world, _customer(), _chat(NOW, 1), _chat(NOW + DAY, 2))
    assert [a.channel for a in first.actions] == ["wecom_private"]
    assert [a.channel for a in second.actions] == ["sms"]
    assert [s.reason for s in second.suppressed] == ["wecom_mass_quota, fell back"]
    plain = _world(policy=policy)
    dropped = run(plain, _customer(), _chat(NOW, 1), _chat(NOW + DAY, 2))[-1]
    assert dropped.actions == ()
    assert [(s.reason, s.deferred_until) for s in dropped.suppressed] == [("wecom_mass_quota", None)]


def test_the_higher_priority_journey_wins_a_capped_slot() -> None:
    low = journey(id="low", priority=1, trigger=CHAT, steps=[_send("low")])
    high = journey(id="high", priority=9, trigger=CHAT, steps=[_send("high")])
    world = _world(low, high, policy={"caps": [{"per": "1d", "max": 1}], "on_cap": "drop"})
    [outcome] = run(world, _customer(), _chat(NOW))
    assert [a.journey.id for a in outcome.actions] == ["high"]
    assert [(s.journey_id, s.reason) for s in outcome.suppressed] == [("low", "cap_all_1_per_86400s")]


@settings(max_examples=60, deadline=None)
@given(minute=st.integers(min_value=0, max_value=7 * 24 * 60 - 1))
def test_no_send_ever_happens_inside_quiet_hours(minute: int) -> None:
    world = _world(policy=QUIET)
    moment = NOW + timedelta(minutes=minute)
    [outcome] = run(world, _customer(), _chat(moment), now=moment)
    for action in outcome.actions:
        local = action.created_at.astimezone(CST).time()
        assert 9 <= local.hour < 21
    for deferral in outcome.suppressed:
        assert deferral.deferred_until is not None
        assert deferral.deferred_until.astimezone(CST).hour == 9


def test_a_deferred_send_keeps_its_first_not_after() -> None:
    world = _world(journey(steps=[_send(expires_after="12h")], trigger=CHAT), policy=QUIET)
    [night] = run(world, _customer(), _chat(NIGHT), now=NIGHT)
    [deferral] = night.suppressed
    assert deferral.deferred_until == datetime(2026, 11, 21, 9, 0, tzinfo=CST)
    timer_id = next(t for t in night.state.timers if t.startswith("wait:"))
    morning = datetime(2026, 11, 21, 9, 0, tzinfo=CST)
    [sent] = run(world, night.state, fire(night.state, timer_id), now=morning)
    [action] = sent.actions
    assert (action.created_at, action.not_after) == (morning, NIGHT + timedelta(hours=12))  # not 21:00


def test_a_deferral_past_not_after_drops_the_send_as_expired() -> None:
    steps = [_send(expires_after="6h"), _send("b", expires_after="2d")]
    world = _world(journey(steps=steps, trigger=CHAT), policy=QUIET)
    [night] = run(world, _customer(), _chat(NIGHT), now=NIGHT)
    assert night.actions == ()
    # a's offer ends at 05:30, before quiet hours do: dropped, and the journey goes on to b (deferred)
    assert [(s.step, s.reason, s.deferred_until) for s in night.suppressed] == [
        ("a", "expired", None),
        ("b", "quiet_hours, deferred", datetime(2026, 11, 21, 9, 0, tzinfo=CST)),
    ]


def test_a_deferred_send_whose_timer_fires_too_late_is_dropped() -> None:
    world = _world(journey(steps=[_send(expires_after="12h")], trigger=CHAT), policy=QUIET)
    [night] = run(world, _customer(), _chat(NIGHT), now=NIGHT)
    timer_id = next(t for t in night.state.timers if t.startswith("wait:"))
    late = NIGHT + timedelta(hours=13)  # the worker was down when the timer came due
    [outcome] = run(world, night.state, fire(night.state, timer_id), now=late)
    assert outcome.actions == ()
    assert [(s.step, s.reason) for s in outcome.suppressed] == [("a", "expired")]
    assert outcome.state.instances == {}
