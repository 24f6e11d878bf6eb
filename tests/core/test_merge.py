"""A OneID merge: the survivor holds both histories and both customers' journeys, once."""

from __future__ import annotations

from datetime import timedelta

from orchestrator.core import CustomerState, Event, World, process
from orchestrator.core.merge import absorb, merge_id
from orchestrator.core.runtime import Ctx, Effects
from tests.builders import NOW, journey, make_event, make_world, order

WELCOME = journey(
    id="welcome",
    trigger={"event": "order.paid"},
    entry={"reentry": "never"},
    steps=[
        {"id": "hello", "send": {"channel": "sms", "template": "remind.j2"}},
        {"id": "pause", "wait": "3d"},
        {"id": "again", "send": {"channel": "wecom_private", "template": "remind.j2"}},
    ],
)
SURVEY = journey(
    id="survey",
    trigger={"event": "survey.answered"},
    steps=[{"id": "pause", "wait": "5d"}, {"id": "thanks", "send": {"channel": "sms", "template": "remind.j2"}}],
)
WORLD = make_world(WELCOME, SURVEY)


def _customer(cid: str, *events: Event) -> CustomerState:
    state = CustomerState.new(cid)
    for event in events:  # each processed when it happened
        state = process(state, event, event.time, WORLD).state
    return state


def _pair() -> tuple[CustomerState, CustomerState]:
    store = _customer(
        "M1",
        make_event("customer.registered", NOW - timedelta(days=25), {}, id_="r1", member="M1", phone="+8613800000001"),
        order(NOW - timedelta(days=20), "O-1", ("PRO-900", 1), member="M1"),
        order(NOW - timedelta(days=2), "O-2", ("VITC-60", 1), member="M1"),
    )
    wecom = _customer(
        "wecom_external_id:wm1",
        make_event(
            "chat.message",
            NOW - timedelta(days=30),
            {"text": "你好"},
            id_="c1",
            member="W",
            wecom_external_id="wm1",
            phone="+8613800000002",
        ),
        order(NOW - timedelta(days=10), "O-3", ("PRO-450", 2), member="W"),
        order(NOW - timedelta(days=2), "O-2", ("VITC-60", 1), member="W"),  # the same order, seen from both sides
        make_event("survey.answered", NOW - timedelta(days=1), {"question": "q", "answer": "a"}, id_="s1", member="W"),
    )
    return store, wecom


def _absorb(survivor: CustomerState, retired: CustomerState, world: World = WORLD) -> tuple[CustomerState, Effects]:
    fx = Effects()
    return absorb(survivor, retired, Ctx(world=world, now=NOW, event=None), fx), fx


def test_the_survivor_holds_both_histories_once() -> None:
    store, wecom = _pair()
    merged, _ = _absorb(store, wecom)
    assert [o.order_id for o in merged.profile.order_log] == ["O-1", "O-3", "O-2"]
    assert merged.profile.orders == 3
    assert merged.profile.first_seen_at == NOW - timedelta(days=30)
    assert {p.order_id for p in merged.profile.purchases} == {"O-1", "O-2", "O-3"}
    assert merged.profile.identity["member_id"] == "M1"
    assert merged.profile.identity["wecom_external_id"] == "wm1"
    assert set(store.seen_digests) | set(wecom.seen_digests) <= set(merged.seen_digests)


def test_journeys_of_both_continue_and_a_journey_in_both_keeps_the_earlier_entry() -> None:
    store, wecom = _pair()
    merged, fx = _absorb(store, wecom)
    by_journey = sorted((i.journey_id, i.entered_at) for i in merged.instances.values())
    earlier = min(
        i.entered_at for i in (*store.instances.values(), *wecom.instances.values()) if i.journey_id == "welcome"
    )
    assert by_journey == [("survey", NOW - timedelta(days=1)), ("welcome", earlier)]
    assert [(how, j) for how, j, _ in fx.journey_events] == [("merged", "welcome")]
    waits = {t for t in merged.timers if t.startswith("wait:")}
    assert waits == {f"wait:{i.id}" for i in merged.instances.values()}  # the ended one's wait is gone
    assert set(fx.timers_set) <= set(merged.timers)


def test_a_redelivered_merge_changes_nothing() -> None:
    store, wecom = _pair()
    merged, _ = _absorb(store, wecom)
    again, fx = _absorb(merged, wecom)
    assert again == merged
    assert merge_id(wecom) in merged.seen
    assert fx.journey_events == []


def test_history_does_not_depend_on_which_side_survives() -> None:
    store, wecom = _pair()
    one, _ = _absorb(store, wecom)
    other, _ = _absorb(wecom, store)
    for field in (
        "order_log",
        "purchases",
        "services",
        "refunded_orders",
        "orders",
        "spent",
        "points",
        "first_seen_at",
    ):
        assert getattr(one.profile, field) == getattr(other.profile, field), field
    assert sorted(one.instances) == sorted(other.instances)
    assert set(one.fired) == set(other.fired)
    assert one.send_log == other.send_log


def test_one_occurrence_seen_from_both_sides_runs_once() -> None:
    every_order = journey(
        id="thanks",
        trigger={"event": "order.paid"},
        entry={"reentry": "always"},
        steps=[{"id": "pause", "wait": "1d"}, {"id": "hi", "send": {"channel": "sms", "template": "remind.j2"}}],
    )
    world = make_world(every_order)
    sides = []
    for cid, member, at in (("M1", "M1", NOW - timedelta(hours=2)), ("W", "W", NOW - timedelta(hours=1))):
        state = CustomerState.new(cid)
        state = process(state, order(NOW - timedelta(hours=3), "O-9", ("PRO-900", 1), member=member), at, world).state
        sides.append(state)
    [mine], [theirs] = (list(s.instances.values()) for s in sides)
    assert mine.id == theirs.id  # the same order reported under both ids made the same instance
    merged, fx = _absorb(sides[1], sides[0], world)  # the survivor entered later
    [kept] = merged.instances.values()
    assert kept.entered_at == mine.entered_at
    assert merged.timers[f"wait:{kept.id}"] == sides[0].timers[f"wait:{kept.id}"]
    assert [how for how, _, _ in fx.journey_events] == ["merged"]


def _consent(channel: str, granted: bool, days_ago: float, cid: str) -> Event:
    data = {"channel": channel, "granted": granted}
    return make_event(
        "consent.changed", NOW - timedelta(days=days_ago), data, id_=f"{cid}-{channel}-{days_ago}", member=cid
    )


def test_consent_the_latest_decision_per_channel_wins() -> None:
    survivor = _customer("M1", _consent("sms", True, 5, "M1"), _consent("wecom_private", False, 1, "M1"))
    retired = _customer(
        "W", _consent("sms", False, 2, "W"), _consent("wecom_private", True, 3, "W"), _consent("call", False, 9, "W")
    )
    merged = absorb(survivor, retired, Ctx(world=WORLD, now=NOW, event=None), Effects()).profile
    assert merged.consent == {"sms": False, "wecom_private": False, "call": False}
    assert merged.consent_at["sms"] == NOW - timedelta(days=2)


def test_a_late_arriving_older_consent_decision_does_not_override_a_newer_one() -> None:
    state = _customer("M1", _consent("sms", False, 1, "M1"))
    late = _consent("sms", True, 3, "M1")
    assert process(state, late, NOW, WORLD).state.profile.consent == {"sms": False}
