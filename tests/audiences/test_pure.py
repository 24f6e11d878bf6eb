"""The pure audience rules: who is in which audience after a commit, what the index changes,
each zone's occurrences, the walk's cursor and the in-memory index simulate uses."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from orchestrator.audiences import PROBE_DAYS, Cursor, Entry, Membership, changes, membership, time_dependent
from orchestrator.audiences.membership import _probe_moments
from orchestrator.audiences.memory import MemoryAudiences
from orchestrator.audiences.schedule import finished, first_occurrence, start
from orchestrator.core import CustomerState, World
from orchestrator.errors import StepError
from tests.builders import NOW, FakeConditions, journey, make_event, make_world, run

SEND = [{"id": "a", "send": {"channel": "wecom_private", "template": "a.j2"}}]
DORMANT = "profile.days_since_last_order is not none and profile.days_since_last_order >= 90"
BERLIN = ZoneInfo("Europe/Berlin")


def _broken(_: Any) -> bool:
    raise StepError("condition failed: 'x' is undefined")


RULES = {
    "club": lambda c: bool(c["profile"]["attributes"].get("club")),
    DORMANT: lambda c: (
        c["profile"]["days_since_last_order"] is not None and c["profile"]["days_since_last_order"] >= 90
    ),
    "broken": _broken,
    "now and orders": lambda c: c["now"] > "2027" and len(c["profile"]["order_log"]) == 1,
    "vip": lambda c: c["profile"]["spent"] >= 1000,
}


def _world(**entries: Any) -> World:
    """One weekly journey per keyword: its id, its entry (``{}``: no condition); and a segment journey."""
    specs = [
        journey(id=jid, trigger={"schedule": "0 10 * * 2"}, entry=entry, steps=SEND) for jid, entry in entries.items()
    ]
    specs.append(journey(id="vips", trigger={"segment": "vip"}, steps=SEND))
    return make_world(*specs, conditions=FakeConditions(RULES))


def _customer(world: World, club: bool = False, ordered: bool = False, tz: str = "Asia/Shanghai") -> CustomerState:
    events = [make_event("customer.registered", NOW - timedelta(days=1), {"tz": tz, "attributes": {"club": club}})]
    if ordered:
        events.append(make_event("order.paid", NOW, {"order_id": "O1", "amount": 100.0}, id_="o1"))
    return run(world, CustomerState.new("M1"), *events)[-1].state


def test_a_condition_on_the_profile_is_judged_at_the_commit() -> None:
    world = _world(everyone={}, club={"when": "club"})
    assert membership(_customer(world, club=True), world, NOW).journeys == {"everyone", "club"}
    assert membership(_customer(world, club=False), world, NOW).journeys == {"everyone"}


def test_a_rule_on_elapsed_time_takes_the_customer_before_it_holds() -> None:
    world = _world(winback={"when": DORMANT})
    assert time_dependent(DORMANT)
    assert not time_dependent("profile.attributes.get('known')")  # 'now' inside a word is not time
    fresh = _customer(world, ordered=True)  # ordered today: dormant in 90 days, with no commit between
    assert membership(fresh, world, NOW).journeys == {"winback"}
    never = _customer(world)  # no order ever: never dormant by this rule
    assert membership(never, world, NOW).journeys == frozenset()
    later = _world(later={"when": "now and orders"})  # a probe reads the histories and its own 'now'
    assert membership(_customer(later, ordered=True), later, NOW).journeys == {"later"}
    assert membership(_customer(later), later, NOW).journeys == frozenset()


def test_each_probe_sees_its_own_day_counters_and_now_over_the_same_histories() -> None:
    seen: list[tuple[str, int, int, int]] = []

    def record(c: Any) -> bool:  # reads a lazy history (loaded by the first read) and the moving figures
        profile = c["profile"]
        seen.append(
            (c["now"], profile["days_since_last_order"], profile["days_since_first_seen"], len(profile["order_log"]))
        )
        return False

    world = make_world(
        journey(id="probe", trigger={"schedule": "0 10 * * 2"}, entry={"when": "now and never"}, steps=SEND),
        conditions=FakeConditions({"now and never": record}),
    )
    assert membership(_customer(world, ordered=True), world, NOW).journeys == frozenset()
    probes = [(NOW, 0)] + [(NOW + timedelta(days=d), d) for d in PROBE_DAYS]
    assert seen == [(at.isoformat(), days, days + 1, 1) for at, days in probes]


def test_a_condition_that_fails_counts_as_yes_and_never_again_as_no() -> None:
    world = _world(broken={"when": "broken"}, once={"reentry": "never"})
    state = _customer(world)
    assert membership(state, world, NOW).journeys == {"broken", "once"}  # the core logs the failure later
    entered = state.model_copy(update={"last_entered": {"once": NOW}})
    assert membership(entered, world, NOW).journeys == {"broken"}
    assert membership(state, world, NOW, only="once").journeys == {"once"}  # one journey judged


def test_a_segment_audience_is_who_is_inside_it() -> None:
    world = _world()
    state = _customer(world)
    inside = state.model_copy(update={"segments": {"vips": True}})
    assert (membership(state, world, NOW).journeys, membership(inside, world, NOW).journeys) == (set(), {"vips"})


def test_changes_add_before_and_remove_after_and_a_zone_change_moves_every_entry() -> None:
    before = Membership("M1", "Asia/Shanghai", frozenset({"a", "b"}))
    same_zone = Membership("M1", "Asia/Shanghai", frozenset({"b", "c"}))
    assert changes(before, same_zone) == ({Entry("c", "Asia/Shanghai", "M1")}, {Entry("a", "Asia/Shanghai", "M1")})
    moved = Membership("M1", "Europe/Berlin", frozenset({"b"}))
    added, removed = changes(before, moved)
    assert added == {Entry("b", "Europe/Berlin", "M1")}
    assert removed == before.entries()
    assert changes(None, moved) == (moved.entries(), frozenset())


def test_occurrences_are_on_each_zones_clock_and_safe_across_dst() -> None:
    world = make_world(journey(id="night", trigger={"schedule": "30 2 * * *"}, steps=SEND))
    night = world.newest["night"]
    # 2026-03-29: Berlin's clocks jump from 02:00 to 03:00; 02:30 does not exist that night
    at = first_occurrence(night, "Europe/Berlin", datetime(2026, 3, 28, 12, 0, tzinfo=BERLIN), world)
    assert at == datetime(2026, 3, 29, 3, 30, tzinfo=BERLIN)
    # 2026-10-25: 02:30 happens twice; it runs once, the first time (summer time, +02:00)
    back = first_occurrence(night, "Europe/Berlin", datetime(2026, 10, 24, 12, 0, tzinfo=BERLIN), world)
    assert back.utcoffset() == timedelta(hours=2)
    cursor = finished(
        start(night, "Europe/Berlin", back - timedelta(hours=1), world), night, "Europe/Berlin", back, world
    )
    assert cursor.occurrence == datetime(2026, 10, 26, 2, 30, tzinfo=BERLIN)


def test_a_cursor_reads_back_and_a_broken_one_names_itself() -> None:
    cursor = Cursor("0 10 * * 2", datetime(2026, 11, 24, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai")), 3, "M1007")
    assert Cursor.loads(cursor.dumps()) == cursor
    assert Cursor.loads(cursor.next_shard().dumps()) == Cursor(cursor.schedule, cursor.occurrence, 4, "")
    with pytest.raises(ValueError, match=r"audience cursor b'\{\"shard\": 1\}': KeyError"):
        Cursor.loads(b'{"shard": 1}')


def test_the_memory_index_judges_at_the_walk_and_walks_in_id_order() -> None:
    world = _world(club={"when": "club"})
    index = MemoryAudiences(["club"])
    members = [_customer(world, club=True).model_copy(update={"customer_id": cid}) for cid in ("M3", "M1", "M2")]
    assert [index.touch(s) for s in members] == [True, False, False]  # only the first zone is news
    index.flush("club", world, NOW)
    assert index.audience("club", "Asia/Shanghai") == ["M1", "M2", "M3"]
    left = _customer(world, club=False).model_copy(update={"customer_id": "M2"})
    merged = members[0].model_copy(update={"redirect_to": "M1"})
    index.touch(left)
    index.touch(merged)
    index.flush("club", world, NOW)
    assert index.audience("club", "Asia/Shanghai") == ["M1"]


def test_probe_moments_are_written_in_the_zone_of_the_moment_they_follow() -> None:
    shanghai = datetime(2026, 3, 1, 10, tzinfo=ZoneInfo("Asia/Shanghai"))
    berlin = shanghai.astimezone(BERLIN)  # the same instant: remembered apart
    assert [m for _, m in _probe_moments(shanghai)] == [(shanghai + timedelta(days=d)).isoformat() for d in PROBE_DAYS]
    assert [m for _, m in _probe_moments(berlin)] == [(berlin + timedelta(days=d)).isoformat() for d in PROBE_DAYS]
    assert _probe_moments(berlin)[3][1].endswith("+02:00")  # 30 days on: summer time in Berlin
