"""Journey execution: entry rules, sends, waits, goals, exits, step failures."""

from __future__ import annotations

from datetime import timedelta

from orchestrator.core import CustomerState
from tests.builders import NOW, FakeConditions, FakeRenderer, fire, journey, make_event, make_world, order, run

DAY = timedelta(days=1)
WAIT_THEN_SEND = [
    {"id": "first", "send": {"channel": "wecom_private", "template": "a.j2"}},
    {"id": "pause", "wait": "2d"},
    {"id": "nudge", "send": {"channel": "sms", "template": "b.j2"}},
]


def _due_state(world: object, **identity: str) -> CustomerState:
    registered = make_event("customer.registered", NOW - 40 * DAY, {"name": "李先生"}, **identity)
    state = run(world, CustomerState.new("M1"), registered)[-1].state  # type: ignore[arg-type]
    return run(world, state, order(NOW - 27 * DAY, "O1", ("PRO-900", 1)))[-1].state  # type: ignore[arg-type]


def test_wait_sets_a_timer_and_resumes_at_the_next_step() -> None:
    world = make_world(journey(steps=WAIT_THEN_SEND))
    state = _due_state(world, wecom_external_id="wm1", phone="+8613800000001")
    [entered] = run(world, state, fire(state, "cycle:protein"))
    assert [a.journey.step for a in entered.actions] == ["first"]
    [instance] = entered.state.instances.values()
    assert instance.step == "pause"
    wait = entered.state.timers[f"wait:{instance.id}"]
    assert wait.due_at == NOW + 2 * DAY
    [resumed] = run(world, entered.state, fire(entered.state, wait.id), now=NOW + 2 * DAY)
    [nudge] = resumed.actions
    assert (nudge.channel, nudge.to, nudge.journey.step) == ("sms", {"phone": "+8613800000001"}, "nudge")
    assert resumed.state.instances == {}
    assert ("completed", "replenish", 1) in resumed.journey_events


def test_goal_event_ends_the_instance_and_cancels_its_wait() -> None:
    world = make_world(journey(steps=WAIT_THEN_SEND, goal={"event": "order.paid", "within": "14d"}))
    state = _due_state(world, wecom_external_id="wm1")
    state = run(world, state, fire(state, "cycle:protein"))[-1].state
    [converted] = run(world, state, order(NOW + DAY, "O2", ("VITC-60", 1)))
    assert converted.state.instances == {}
    assert ("goal", "replenish", 1) in converted.journey_events
    assert any(t.startswith("wait:") for t in converted.timers_cancelled)


def test_an_order_dated_before_the_journey_started_is_not_its_goal() -> None:
    world = make_world(journey(steps=WAIT_THEN_SEND, goal={"event": "order.paid", "within": "14d"}))
    state = _due_state(world, wecom_external_id="wm1")
    state = run(world, state, fire(state, "cycle:protein"))[-1].state
    # A store order from two days before the journey started, uploaded late.
    [late] = run(world, state, order(NOW - 2 * DAY, "O2", ("VITC-60", 1)))
    assert len(late.state.instances) == 1
    assert late.conversions == ()
    assert all(e[0] != "goal" for e in late.journey_events)
    [converted] = run(world, late.state, order(NOW + DAY, "O3", ("VITC-60", 1)))
    assert converted.state.instances == {}
    assert len(converted.conversions) == 1


def test_an_order_dated_before_an_ended_instance_started_is_not_attributed() -> None:
    world = make_world(journey(goal={"event": "order.paid", "within": "14d"}))  # one send, then it ends
    state = _due_state(world, wecom_external_id="wm1")
    state = run(world, state, fire(state, "cycle:protein"))[-1].state
    assert state.instances == {}
    assert len(state.attribution) == 1
    [late] = run(world, state, order(NOW - DAY, "O2", ("VITC-60", 1)))
    assert late.conversions == ()
    [converted] = run(world, late.state, order(NOW + DAY, "O3", ("VITC-60", 1)))
    assert len(converted.conversions) == 1


def test_exit_on_event_ends_the_instance() -> None:
    world = make_world(journey(steps=WAIT_THEN_SEND, exit_on=["consent.changed"]))
    state = _due_state(world, wecom_external_id="wm1")
    state = run(world, state, fire(state, "cycle:protein"))[-1].state
    withdrawn = make_event("consent.changed", NOW, {"channel": "sms", "granted": False})
    [outcome] = run(world, state, withdrawn)
    assert outcome.state.instances == {}
    assert ("exited", "replenish", 1) in outcome.journey_events
    assert outcome.state.profile.consent == {"sms": False}


def test_entry_condition_false_means_no_instance() -> None:
    conditions = FakeConditions({"profile.lifecycle == 'loyal'": lambda c: c["profile"]["lifecycle"] == "loyal"})
    world = make_world(journey(entry={"when": "profile.lifecycle == 'loyal'"}), conditions=conditions)
    state = _due_state(world, wecom_external_id="wm1")  # one order: lifecycle "new"
    [outcome] = run(world, state, fire(state, "cycle:protein"))
    assert len(outcome.hits) == 1
    assert outcome.actions == ()
    assert outcome.journey_events == ()


def test_step_condition_skips_the_step() -> None:
    conditions = FakeConditions({"false": lambda c: False})
    steps = [
        {"id": "skipped", "when": "false", "send": {"channel": "sms", "template": "x.j2"}},
        {"id": "sent", "send": {"channel": "wecom_private", "template": "y.j2"}},
    ]
    world = make_world(journey(steps=steps), conditions=conditions)
    state = _due_state(world, wecom_external_id="wm1")
    [outcome] = run(world, state, fire(state, "cycle:protein"))
    assert [a.journey.step for a in outcome.actions] == ["sent"]


def test_cooldown_blocks_reentry() -> None:
    world = make_world(journey(entry={"reentry": {"cooldown": "30d"}}))
    state = _due_state(world, wecom_external_id="wm1")
    state = run(world, state, fire(state, "cycle:protein"))[-1].state
    state = run(world, state, order(NOW, "O2", ("PRO-900", 1)))[-1].state
    later = NOW + 28 * DAY  # the new cycle is due, but within the 30-day cooldown
    [outcome] = run(world, state, fire(state, "cycle:protein"), now=later)
    assert len(outcome.hits) == 1
    assert outcome.actions == ()


def test_missing_recipient_fails_the_step_not_the_input() -> None:
    world = make_world()
    state = _due_state(world)  # no wecom_external_id known
    [outcome] = run(world, state, fire(state, "cycle:protein"))
    assert outcome.actions == ()
    [failure] = outcome.failures
    assert failure.step == "remind"
    assert "no wecom_external_id" in failure.reason
    assert ("failed", "replenish", 1) in outcome.journey_events
    assert outcome.state.instances == {}


def test_template_failure_fails_the_step_and_names_the_template() -> None:
    world = make_world(renderer=FakeRenderer(failing=frozenset({"remind.j2"})))
    state = _due_state(world, wecom_external_id="wm1")
    [outcome] = run(world, state, fire(state, "cycle:protein"))
    assert outcome.actions == ()
    assert "remind.j2:1" in outcome.failures[0].reason


def test_only_the_newest_version_takes_new_entries() -> None:
    world = make_world(journey(version=1), journey(version=2))
    state = _due_state(world, wecom_external_id="wm1")
    [outcome] = run(world, state, fire(state, "cycle:protein"))
    assert [a.journey.version for a in outcome.actions] == [2]
    assert outcome.actions[0].action_id.startswith("replenish:2:")
