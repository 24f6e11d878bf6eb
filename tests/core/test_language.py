"""Each part of the journey language, through process(): triggers, step kinds, entry rules, versions."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.audiences import schedule
from orchestrator.core import CustomerState, Outcome, World
from orchestrator.core.calendar import BusinessCalendar
from orchestrator.core.steps import assign_variant
from tests.builders import (
    CST,
    NOW,
    FakeConditions,
    FakeRenderer,
    fire,
    journey,
    make_event,
    make_world,
    occurrence,
    run,
)

DAY = timedelta(days=1)
CHAT = {"event": "chat.message"}
SEND_A = {"id": "a", "send": {"channel": "wecom_private", "template": "a.j2"}}
SEND_SMS = {"id": "sms", "send": {"channel": "sms", "template": "sms.j2"}}


def _world(*steps: dict[str, Any], conditions: dict[str, Any] | None = None, **spec: Any) -> World:
    spec.setdefault("trigger", CHAT)
    return make_world(journey(steps=list(steps), **spec), conditions=FakeConditions(conditions))


def _known(**identity: str) -> CustomerState:
    base = {"wecom_external_id": "wm1", "phone": "+8613800000001"}
    registered = make_event("customer.registered", NOW - 30 * DAY, {"name": "王女士"}, **{**base, **identity})
    return run(make_world(), CustomerState.new("M1"), registered)[-1].state


def _chat(at: datetime = NOW, text: str = "你好", id_: str | None = None) -> Any:
    return make_event("chat.message", at, {"text": text}, id_=id_ or f"chat@{at.isoformat()}")


def _steps(outcome: Outcome) -> list[str]:
    return [a.journey.step for a in outcome.actions]


def test_event_trigger_with_condition() -> None:
    world = _world(
        SEND_A,
        trigger={"event": "chat.message", "when": "asks brand"},
        conditions={"asks brand": lambda c: "什么牌子" in c["event"]["data"]["text"]},
    )
    state = _known()
    [quiet] = run(world, state, _chat(text="谢谢"))
    [asked] = run(world, state, _chat(text="同事问这是什么牌子"))
    assert quiet.actions == ()
    assert _steps(asked) == ["a"]


def test_segment_trigger_enters_when_the_condition_turns_true() -> None:
    world = _world(SEND_A, trigger={"segment": "vip"}, conditions={"vip": lambda c: c["profile"]["spent"] >= 1000})
    order = {"order_id": "O1", "amount": 600.0}
    first = run(world, _known(), make_event("order.paid", NOW, order, id_="p1"))[-1]
    second = run(world, first.state, make_event("order.paid", NOW, {**order, "order_id": "O2"}, id_="p2"))[-1]
    third = run(world, second.state, make_event("order.paid", NOW, {**order, "order_id": "O3"}, id_="p3"))[-1]
    assert (len(first.actions), len(second.actions), len(third.actions)) == (0, 1, 0)


def test_schedule_trigger_fires_in_the_customers_time_zone() -> None:
    world = _world(SEND_A, trigger={"schedule": "0 10 * * 2"})  # Tuesdays 10:00 local
    state = run(world, _known(), _chat())[-1].state
    assert not state.timers  # no timer per customer: the audience is walked at each occurrence
    journey_ = world.newest["replenish"]
    due = schedule.first_occurrence(journey_, state.profile.tz, NOW, world)
    assert due == datetime(2026, 11, 24, 10, 0, tzinfo=CST)
    [fired] = run(world, state, occurrence(state, "replenish", due), now=due)
    assert _steps(fired) == ["a"]
    [again] = run(world, fired.state, occurrence(state, "replenish", due), now=due + timedelta(hours=1))
    assert again.duplicate  # a page handed over again after a crash enters nobody twice
    assert schedule.following_occurrence(journey_, state.profile.tz, due, due, world) == datetime(
        2026, 12, 1, 10, 0, tzinfo=CST
    )


def test_an_occurrence_not_on_the_customers_clock_or_before_they_came_is_ignored() -> None:
    world = _world(SEND_A, trigger={"schedule": "0 10 * * 2"})
    state = run(world, _known(), _chat())[-1].state
    berlin = datetime(2026, 11, 24, 10, 0, tzinfo=ZoneInfo("Europe/Berlin"))  # the walk of another zone
    [other_zone] = run(world, state, occurrence(state, "replenish", berlin), now=berlin)
    before = datetime(2020, 1, 7, 10, 0, tzinfo=CST)  # a Tuesday before the customer was first seen
    [too_early] = run(world, state, occurrence(state, "replenish", before), now=berlin)
    not_yet = datetime(2026, 11, 24, 10, 0, tzinfo=CST)
    [early] = run(world, state, occurrence(state, "replenish", not_yet), now=not_yet - timedelta(minutes=1))
    assert (other_zone.duplicate, too_early.duplicate, early.duplicate) == (True, True, True)


def test_a_date_offset_keeps_hours() -> None:
    world = _world(SEND_A, trigger={"date": {"attribute": "due", "offset": "-36h", "at": "10:00"}})
    state = run(world, _known(), make_event("profile.updated", NOW, {"attributes": {"due": "2027-01-10"}}))[-1].state
    assert state.timers["date:replenish"].due_at == datetime(2027, 1, 8, 22, 0, tzinfo=CST)


def test_date_trigger_with_offset() -> None:
    world = _world(SEND_A, trigger={"date": {"attribute": "baby_birth_date", "offset": "182d", "at": "09:30"}})
    born = make_event("profile.updated", NOW, {"attributes": {"baby_birth_date": "2026-08-01"}})
    state = run(world, _known(), born)[-1].state
    assert state.timers["date:replenish"].due_at == datetime(2027, 1, 30, 9, 30, tzinfo=CST)
    [fired] = run(world, state, fire(state, "date:replenish"), now=datetime(2027, 1, 30, 9, 30, tzinfo=CST))
    assert _steps(fired) == ["a"]
    assert "date:replenish" not in fired.state.timers  # once, not yearly


def test_yearly_date_trigger_rolls_to_next_year() -> None:
    world = _world(SEND_A, trigger={"date": {"attribute": "birthday", "at": "10:00", "yearly": True}})
    state = run(world, _known(), make_event("profile.updated", NOW, {"attributes": {"birthday": "1990-03-08"}}))[
        -1
    ].state
    due = state.timers["date:replenish"].due_at
    assert due == datetime(2027, 3, 8, 10, 0, tzinfo=CST)
    after = run(world, state, fire(state, "date:replenish"), now=due)[-1].state
    assert after.timers["date:replenish"].due_at == datetime(2028, 3, 8, 10, 0, tzinfo=CST)


def test_wait_for_continues_on_the_awaited_event_or_times_out() -> None:
    wait = {"id": "hold", "wait_for": {"event": "message.replied", "timeout": "2d", "on_timeout": "sms"}}
    done = {"id": "done", "exit": True}
    world = _world(
        SEND_A,
        wait,
        {"id": "thanks", "send": {"channel": "wecom_private", "template": "t.j2"}, "next": "done"},
        SEND_SMS,
        done,
    )
    entered = run(world, _known(), _chat())[-1]
    replied = run(world, entered.state, make_event("message.replied", NOW + DAY, {}))[-1]
    assert _steps(replied) == ["thanks"]
    assert replied.state.instances == {}
    timer_id = next(iter(entered.state.timers))
    silent = run(world, entered.state, fire(entered.state, timer_id), now=NOW + 2 * DAY)[-1]
    assert _steps(silent) == ["sms"]


def test_branch_takes_the_first_true_case_else_otherwise() -> None:
    rules = {"gold": lambda c: c["profile"]["spent"] > 500, "any": lambda c: True}
    branch = {"id": "route", "branch": {"cases": [{"when": "gold", "next": "a"}, {"when": "any", "next": "sms"}]}}
    world = _world(branch, SEND_A, {"id": "end", "exit": True}, SEND_SMS, conditions=rules)
    [outcome] = run(world, _known(), _chat())
    assert _steps(outcome) == ["sms"]


def test_update_sets_attributes_tags_and_points() -> None:
    update = {"id": "tag", "update": {"set": {"segment": "gift"}, "add_tags": ["送礼"], "points": 200}}
    [outcome] = run(_world(update), _known(), _chat())
    profile = outcome.state.profile
    assert (profile.attributes["segment"], profile.tags, profile.points) == ("gift", ("送礼",), 200)


def test_task_waits_for_the_associate_then_falls_back_on_sla() -> None:
    task = {
        "id": "call",
        "task": {"channel": "call", "template": "call.j2", "sla": "1d", "on_timeout": "sms", "on_skipped": "sms"},
    }
    world = _world(task, {"id": "end", "exit": True}, SEND_SMS)
    entered = run(world, _known(), _chat())[-1]
    [action] = entered.actions
    assert (action.channel, action.content["kind"], action.content["assignee"]) == ("task", "call", "store_associate")
    completed = make_event("task.completed", NOW + DAY / 2, {"action_id": action.action_id})
    assert run(world, entered.state, completed)[-1].journey_events[-1] == ("exited", "replenish", 1)
    skipped = make_event("task.skipped", NOW + DAY / 2, {"action_id": action.action_id})
    assert _steps(run(world, entered.state, skipped)[-1]) == ["sms"]
    timer_id = next(iter(entered.state.timers))
    assert _steps(run(world, entered.state, fire(entered.state, timer_id), now=NOW + DAY)[-1]) == ["sms"]


def test_goto_loops_a_bounded_number_of_times_with_distinct_action_ids() -> None:
    steps = [SEND_A, {"id": "pause", "wait": "1d"}, {"id": "again", "goto": {"step": "a", "max": 2}}]
    world = _world(*steps)
    outcome = run(world, _known(), _chat())[-1]
    ids = [a.action_id for a in outcome.actions]
    for day in range(1, 5):
        timer_id = next((t for t in outcome.state.timers if t.startswith("wait:")), None)
        if timer_id is None:
            break
        outcome = run(world, outcome.state, fire(outcome.state, timer_id), now=NOW + day * DAY)[-1]
        ids += [a.action_id for a in outcome.actions]
    assert len(ids) == 3
    assert len(set(ids)) == 3
    assert ids[1].endswith(":a#2:M1")
    assert outcome.state.instances == {}


def test_wait_until_next_business_day_at_local_time() -> None:
    holiday = date(2026, 11, 23)  # a Monday made a holiday for the test
    steps = [{"id": "later", "wait_until": {"at": "10:00", "business_day": True}}, SEND_A]
    spec = journey(steps=steps, trigger=CHAT)
    world = World(
        journeys=(spec,),
        products=make_world().products,
        renderer=FakeRenderer(),
        conditions=FakeConditions(),
        calendar=BusinessCalendar(holidays=frozenset({holiday})),
    )
    saturday_noon = datetime(2026, 11, 21, 12, 0, tzinfo=CST)
    [outcome] = run(world, _known(), _chat(saturday_noon), now=saturday_noon)
    [timer] = [t for t in outcome.timers_set if t.id.startswith("wait:")]
    assert timer.due_at == datetime(2026, 11, 24, 10, 0, tzinfo=CST)


def test_consent_withdrawn_falls_back_to_another_channel() -> None:
    send = {
        "id": "a",
        "send": {"channel": "wecom_private", "template": "a.j2", "fallback": {"channel": "sms", "template": "sms.j2"}},
    }
    state = run(
        make_world(), _known(), make_event("consent.changed", NOW, {"channel": "wecom_private", "granted": False})
    )[-1].state
    [outcome] = run(_world(send), state, _chat())
    [action] = outcome.actions
    assert action.channel == "sms"
    assert action.content["text"].startswith("sms.j2")
    assert [s.reason for s in outcome.suppressed] == ["consent, fell back"]


def test_journey_send_cap_suppresses_the_extra_send() -> None:
    world = _world(SEND_A, send_cap={"max": 1, "per": "7d"}, entry={"reentry": "always"})
    first = run(world, _known(), _chat(id_="c1"))[-1]
    second = run(world, first.state, _chat(NOW + DAY, id_="c2"), now=NOW + DAY)[-1]
    assert len(first.actions) == 1
    assert second.actions == ()
    assert [s.reason for s in second.suppressed] == ["journey_send_cap"]


def test_reentry_never_and_max_instances() -> None:
    never = _world(SEND_A, entry={"reentry": "never"})
    first = run(never, _known(), _chat(id_="c1"))[-1]
    assert run(never, first.state, _chat(id_="c2"))[-1].actions == ()
    parallel = _world({"id": "pause", "wait": "3d"}, SEND_A, entry={"max_instances": 2})
    outcomes = run(parallel, _known(), _chat(id_="c1"), _chat(id_="c2"), _chat(id_="c3"))
    assert len(outcomes[-1].state.instances) == 2


def test_split_assigns_a_variant_and_the_holdout_gets_nothing() -> None:
    split = {"id": "ab", "split": {"A": {"weight": 50, "next": "a"}, "holdout": {"weight": 50}}}
    world = _world(split, SEND_A)
    results = {}
    for n in range(40):
        state = _known().model_copy(update={"customer_id": f"C{n}"})
        [outcome] = run(world, state, _chat())
        results[f"C{n}"] = outcome
    in_a = [o for o in results.values() if o.actions]
    assert 0 < len(in_a) < 40
    assert all(o.actions[0].journey.variant == "A" for o in in_a)
    assert all(("holdout", "replenish", 1) in o.journey_events for o in results.values() if not o.actions)


@given(customer=st.text(min_size=1, max_size=20), step=st.sampled_from(["ab", "copy_test"]))
def test_split_assignment_is_stable(customer: str, step: str) -> None:
    weights = {"A": 45, "B": 45, "holdout": 10}
    assert assign_variant("replenish", step, customer, weights) == assign_variant("replenish", step, customer, weights)


@settings(max_examples=10, deadline=None)
@given(weights=st.lists(st.integers(min_value=5, max_value=60), min_size=2, max_size=4).filter(lambda w: sum(w) < 100))
def test_split_matches_its_weights(weights: list[int]) -> None:
    named = {f"V{i}": w for i, w in enumerate(weights)}
    named["holdout"] = 100 - sum(weights)
    counts = Counter(assign_variant("j", "s", f"customer-{n}", named) for n in range(20_000))
    for name, weight in named.items():
        assert abs(counts[name] / 20_000 - weight / 100) < 0.015, (name, counts)


def test_a_migration_moves_waiting_instances_to_the_new_version() -> None:
    old = journey(version=1, trigger=CHAT, steps=[{"id": "pause", "wait": "2d"}, SEND_A])
    new = journey(
        version=2,
        trigger=CHAT,
        migrate={"from_version": 1, "steps": {"pause": "hold"}},
        steps=[{"id": "hold", "wait": "1d"}, SEND_SMS],
    )
    waiting = run(make_world(old), _known(), _chat())[-1].state
    world = make_world(old, new)
    timer_id = next(t for t in waiting.timers if t.startswith("wait:"))
    [resumed] = run(world, waiting, fire(waiting, timer_id), now=NOW + 2 * DAY)
    assert ("migrated", "replenish", 2) in resumed.journey_events
    assert [(a.journey.version, a.journey.step) for a in resumed.actions] == [(2, "sms")]


def test_an_instance_without_a_mapping_stays_on_its_version() -> None:
    old = journey(version=1, trigger=CHAT, steps=[{"id": "pause", "wait": "2d"}, SEND_A])
    new = journey(version=2, trigger=CHAT, steps=[SEND_SMS])
    waiting = run(make_world(old), _known(), _chat())[-1].state
    timer_id = next(t for t in waiting.timers if t.startswith("wait:"))
    [resumed] = run(make_world(old, new), waiting, fire(waiting, timer_id), now=NOW + 2 * DAY)
    assert [(a.journey.version, a.journey.step) for a in resumed.actions] == [(1, "a")]


def test_goal_with_condition() -> None:
    world = _world(
        {"id": "pause", "wait": "3d"},
        SEND_A,
        goal={"event": "order.paid", "when": "big", "within": "7d"},
        conditions={"big": lambda c: c["event"]["data"]["amount"] >= 300},
    )
    state = run(world, _known(), _chat())[-1].state
    small = run(world, state, make_event("order.paid", NOW + DAY, {"order_id": "S", "amount": 99.0}))[-1]
    assert small.state.instances
    big = run(world, state, make_event("order.paid", NOW + DAY, {"order_id": "B", "amount": 399.0}))[-1]
    assert big.state.instances == {}
    assert ("goal", "replenish", 1) in big.journey_events


def test_templates_see_the_profile_view_with_derived_figures() -> None:
    renderer = FakeRenderer()
    world = make_world(journey(steps=[SEND_A], trigger=CHAT), renderer=renderer)
    state = run(world, _known(), make_event("order.paid", NOW - 10 * DAY, {"order_id": "O", "amount": 1.0}))[-1].state
    run(world, state, _chat())
    [context] = renderer.contexts
    assert context["profile"]["days_since_last_order"] == 10
    assert context["event"]["type"] == "chat.message"
    assert context["journey"] == {"id": "replenish", "version": 1, "variant": None, "step": "a", "visit": 1}
    assert context["trigger"]["type"] == "chat.message"


def test_a_goal_after_the_instance_ended_still_converts_once_holdouts_included() -> None:
    split = {"id": "ab", "split": {"A": {"weight": 50, "next": "a"}, "holdout": {"weight": 50}}}
    world = _world(split, SEND_A, goal={"event": "order.paid", "within": "7d"})
    order = make_event("order.paid", NOW + 2 * DAY, {"order_id": "O9", "amount": 10.0}, id_="late-order")
    again = make_event("order.paid", NOW + 3 * DAY, {"order_id": "O10", "amount": 10.0}, id_="second-order")
    variants = set()
    for n in range(12):
        state = _known().model_copy(update={"customer_id": f"C{n}"})
        entered = run(world, state, _chat())[-1]
        assert entered.state.instances == {}  # both paths end at once
        first, second = run(world, entered.state, order, again)
        [conversion] = first.conversions
        assert conversion.event_id == "late-order"
        variants.add(conversion.variant)
        assert second.conversions == ()
    assert variants == {"A", "holdout"}


def test_a_goal_after_the_window_does_not_convert() -> None:
    world = _world(SEND_A, goal={"event": "order.paid", "within": "7d"})
    entered = run(world, _known(), _chat())[-1]
    late = make_event("order.paid", NOW + 8 * DAY, {"order_id": "O9", "amount": 10.0})
    assert run(world, entered.state, late)[-1].conversions == ()
