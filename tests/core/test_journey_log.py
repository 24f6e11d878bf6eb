"""The journey log the core writes: one record per entry, refusal, step, send, suppression, failure, goal, exit."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from orchestrator.core import CustomerState, Outcome, TimerFired, World
from orchestrator.core.journey_log import LOG_VERSION, LogRecord
from tests.builders import NOW, FakeConditions, FakeRenderer, journey, make_event, make_world, run

DAY = timedelta(days=1)
CHAT = {"event": "chat.message"}
SEND_A = {"id": "a", "send": {"channel": "wecom_private", "template": "a.j2"}}
SPLIT = {"id": "ab", "split": {"A": {"weight": 50, "next": "a"}, "holdout": {"weight": 50}}}


def _world(*steps: dict[str, Any], conditions: dict[str, Any] | None = None, **spec: Any) -> World:
    spec.setdefault("trigger", CHAT)
    renderer = spec.pop("renderer", None)
    return make_world(journey(steps=list(steps), **spec), conditions=FakeConditions(conditions), renderer=renderer)


def _known(cid: str = "M1", **identity: str) -> CustomerState:
    base = {"wecom_external_id": "wm1", "phone": "+8613800000001"}
    registered = make_event("customer.registered", NOW - 30 * DAY, {"name": "王女士"}, **{**base, **identity})
    state = run(make_world(), CustomerState.new("M1"), registered)[-1].state
    return state.model_copy(update={"customer_id": cid})


def _chat(id_: str, days: int = 0) -> Any:
    return make_event("chat.message", NOW + days * DAY, {"text": "你好"}, id_=id_)


def _kinds(outcome: Outcome) -> list[str]:
    return [f"{r.kind} {r.step or r.reason or ''}".rstrip() for r in outcome.log]


def test_an_entry_logs_entered_each_step_the_send_and_the_end_in_order() -> None:
    [outcome] = run(_world({"id": "tag", "update": {"add_tags": ["x"]}}, SEND_A), _known(), _chat("c1"))
    assert _kinds(outcome) == ["entered", "step tag", "step a", "sent a", "exited completed"]
    sent = outcome.log[3]
    [action] = outcome.actions
    assert (sent.action_id, sent.channel, sent.customer_id, sent.at) == (action.action_id, "wecom_private", "M1", NOW)
    assert {r.instance for r in outcome.log} == {action.action_id.split(":")[2]}
    assert all(r.v == LOG_VERSION and (r.journey, r.version) == ("replenish", 1) for r in outcome.log)


def test_a_split_record_carries_the_arm_and_so_does_everything_after_it() -> None:
    arms = {}
    for n in range(30):
        [outcome] = run(_world(SPLIT, SEND_A), _known(f"C{n}"), _chat("c1"))
        split = next(r for r in outcome.log if r.kind == "step" and r.step == "ab")
        arms[split.variant] = outcome
        assert all(r.variant == split.variant for r in outcome.log[outcome.log.index(split) :])
    assert _kinds(arms["A"])[-2:] == ["sent a", "exited completed"]
    assert _kinds(arms["holdout"])[-1] == "exited holdout"


def test_refusals_name_the_rule() -> None:
    never = _world(SEND_A, entry={"reentry": "never"})
    _, second = run(never, _known(), _chat("c1"), _chat("c2"))
    [refused] = second.log
    assert (refused.kind, refused.rule) == ("entry_refused", "entry.reentry")
    assert refused.reason is not None
    assert refused.reason.startswith("never")

    cooldown = _world(SEND_A, entry={"reentry": {"cooldown": "7d"}})
    _, again = run(cooldown, _known(), _chat("c1"), _chat("c2", days=1))
    assert [(r.rule, (r.reason or "").split(":")[0]) for r in again.log] == [("entry.reentry", "cooldown")]

    parallel = _world({"id": "pause", "wait": "3d"}, entry={"max_instances": 1})
    _, busy = run(parallel, _known(), _chat("c1"), _chat("c2"))
    assert [(r.kind, r.rule, r.reason) for r in busy.log] == [
        ("entry_refused", "entry.max_instances", "1 running, at most 1")
    ]


def test_a_false_entry_or_trigger_condition_is_a_refusal_with_the_condition() -> None:
    entry = _world(SEND_A, entry={"when": "vip"}, conditions={"vip": lambda c: False})
    [outcome] = run(entry, _known(), _chat("c1"))
    assert [(r.kind, r.rule, r.reason) for r in outcome.log] == [("entry_refused", "entry.when", "vip")]
    trigger = _world(SEND_A, trigger={"event": "chat.message", "when": "asks"}, conditions={"asks": lambda c: False})
    [outcome] = run(trigger, _known(), _chat("c1"))
    assert [(r.kind, r.rule, r.reason) for r in outcome.log] == [("entry_refused", "trigger.when", "asks")]


def test_a_schedule_does_not_log_everyone_outside_its_audience() -> None:
    weekly = _world(SEND_A, trigger={"schedule": "0 10 * * 1"}, entry={"when": "vip"}, conditions={"vip": lambda c: 0})
    [registered] = run(weekly, _known(), _chat("c1"))
    assert weekly.cron is not None
    due = weekly.cron.next_after("0 10 * * 1", NOW, ZoneInfo(registered.state.profile.tz))
    fired = TimerFired(customer_id="M1", timer_id="sched:replenish", due_at=due)
    [outcome] = run(weekly, registered.state, fired, now=due)
    assert outcome.log == ()
    assert not outcome.duplicate  # it was judged (and said no), not ignored


def test_suppressions_failures_and_goals_are_logged() -> None:
    fallback = {"channel": "wecom_private", "template": "a.j2"}
    sms = {"id": "s", "send": {"channel": "sms", "template": "s.j2", "fallback": fallback}}
    consent = make_event("consent.changed", NOW - DAY, {"channel": "sms", "granted": False}, id_="no-sms")
    world = _world(sms, goal={"event": "order.paid", "within": "7d"})
    state = run(world, _known(), consent)[-1].state
    [entered] = run(world, state, _chat("c1"))
    assert ("suppressed", "sms", "consent, fell back") in [(r.kind, r.channel, r.reason) for r in entered.log]
    assert [r.channel for r in entered.log if r.kind == "sent"] == ["wecom_private"]
    [paid] = run(world, entered.state, make_event("order.paid", NOW + DAY, {"order_id": "O", "amount": 1.0}, id_="p"))
    assert [(r.kind, r.reason) for r in paid.log] == [("goal", "event p")]

    failing = _world(SEND_A, renderer=FakeRenderer(frozenset({"a.j2"})))
    [broken] = run(failing, _known(), _chat("c1"))
    assert _kinds(broken)[-3:] == ["step a", "failed a", "exited failed"]
    assert "UndefinedError" in (broken.log[-2].reason or "")


def test_records_are_compact_and_read_back() -> None:
    [outcome] = run(_world(SEND_A), _known(), _chat("c1"))
    for record in outcome.log:
        compact = record.compact()
        assert None not in compact.values()
        assert LogRecord.model_validate(compact) == record
