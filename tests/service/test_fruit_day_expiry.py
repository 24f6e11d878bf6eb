"""国民水果日: the coupon is valid today only (今天之内有效). A send the contact policy holds
back keeps that deadline, and one that could only go out tomorrow is dropped — never a
stale offer. Run on the shipped journeys, policy and templates."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

from orchestrator.audiences import schedule
from orchestrator.config.catalog import load_config
from orchestrator.core import CustomerState, World
from orchestrator.core.effects import Outcome
from orchestrator.core.state import SentRecord
from tests.builders import fire, make_event, occurrence, run

REPO = Path(__file__).resolve().parents[2]
CST = timezone(timedelta(hours=8))
TUESDAY = datetime(2026, 11, 24, 10, 0, tzinfo=CST)
MIDNIGHT = datetime(2026, 11, 25, 0, 0, tzinfo=CST)  # the coupon step's 14h: the end of the day


def _world() -> World:
    return load_config(REPO / "journeys", REPO / "templates").world()


def _member(world: World, earlier_sends: list[datetime]) -> CustomerState:
    registered = make_event(
        "customer.registered",
        datetime(2026, 11, 20, 9, 0, tzinfo=CST),
        {"name": "吴女士", "attributes": {"fruit_club": True}},
        member="F1",
        wecom_external_id="wm-F1",
        phone="+8613870019999",
    )
    state = run(world, CustomerState.new("F1"), registered, now=registered.time)[-1].state
    log = tuple(SentRecord(at=at, channel="wecom_private", journey="other") for at in earlier_sends)
    return state.model_copy(update={"send_log": log})


def _tuesday(world: World, state: CustomerState) -> Outcome:
    journey = world.newest["fruit-day"]
    assert schedule.first_occurrence(journey, state.profile.tz, state.profile.first_seen_at, world) == TUESDAY
    return run(world, state, occurrence(state, "fruit-day", TUESDAY), now=TUESDAY)[-1]


def test_a_coupon_held_back_by_the_daily_cap_goes_out_today_with_todays_deadline() -> None:
    world = _world()
    # three sends on Monday at 11:00 fill the 3-a-day cap until Tuesday 11:00
    state = _member(world, [datetime(2026, 11, 23, 11, 0, tzinfo=CST)] * 3)
    tuesday = _tuesday(world, state)
    assert tuesday.actions == ()
    assert [(s.step, s.reason) for s in tuesday.suppressed] == [("coupon", "cap_all_3_per_86400s, deferred")]
    eleven = datetime(2026, 11, 24, 11, 0, tzinfo=CST)
    timer_id = next(t for t in tuesday.state.timers if t.startswith("wait:"))
    [resumed] = run(world, tuesday.state, fire(tuesday.state, timer_id), now=eleven)
    coupon = resumed.actions[0]
    assert (coupon.journey.step, coupon.created_at, coupon.not_after) == ("coupon", eleven, MIDNIGHT)


def test_a_coupon_that_could_only_go_out_tomorrow_is_dropped_as_expired() -> None:
    world = _world()
    # three sends on Tuesday at 08:45 fill the cap until Wednesday 08:45: past the coupon's day
    state = _member(world, [datetime(2026, 11, 24, 8, 45, tzinfo=CST)] * 3)
    tuesday = _tuesday(world, state)
    assert tuesday.actions == ()
    assert [(s.step, s.channel, s.reason) for s in tuesday.suppressed] == [
        ("coupon", "coupon", "expired"),
        ("announce", "wecom_private", "cap_all_3_per_86400s, fell back"),  # SMS is capped as well
        ("announce", "sms", "expired"),
    ]
    evening = datetime(2026, 11, 24, 17, 30, tzinfo=CST)
    timer_id = next(t for t in tuesday.state.timers if t.startswith("wait:"))
    [last_call] = run(world, tuesday.state, fire(tuesday.state, timer_id), now=evening)
    assert last_call.actions == ()
    assert [(s.step, s.reason) for s in last_call.suppressed] == [("last_call", "expired")]
