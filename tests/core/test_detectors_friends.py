"""buying_for_friends: a friend asked in chat, a gift order, an order for somebody else."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from orchestrator.core import CustomerState, Event, World
from orchestrator.core.scenario_spec import ScenarioSettings
from orchestrator.core.scenarios.names import SAMPLE_EVIDENCE
from tests.builders import NOW, FakeConditions, journey, make_event, make_world, run

DAY = timedelta(days=1)
FRIENDS = "buying_for_friends"


def _world(**friends: Any) -> World:
    settings = {
        "chat": {"intents": {"asked": {"phrases": ["什么牌子", "帮朋友带", "送人"], "keywords": [["同事", "问"]]}}},
        "buying_for_friends": {"chat_intent": "asked", "gift_fields": ["gift", "is_gift"], **friends},
    }
    return replace(make_world(), scenarios=ScenarioSettings.model_validate(settings))


def _registered() -> Event:
    return make_event("customer.registered", NOW - 90 * DAY, {"name": "王女士"}, phone="+86 138-0000-0001")


def _order(order_id: str, **data: Any) -> Event:
    payload = {"order_id": order_id, "amount": 199, "items": [{"sku": "PRO-900"}], **data}
    return make_event("order.paid", NOW, payload, id_=f"pay-{order_id}")


def _chat(text: str, at: Any = NOW) -> Event:
    return make_event("chat.message", at, {"text": text}, id_=f"chat-{text}-{at}")


CASES: dict[str, tuple[Event, str | None, str | None]] = {
    "colleague asked": (_chat("同事过来问这是什么牌子"), "chat:2026-11-20", "chat intent asked"),
    "bring one for a friend": (_chat("帮朋友带一份"), "chat:2026-11-20", "chat intent asked"),
    "keyword group": (_chat("同事昨天问我了"), "chat:2026-11-20", "chat intent asked"),
    "not a gift": (_chat("不是送人的，自己吃"), None, None),
    "small talk": (_chat("好的谢谢"), None, None),
    "gift flag": (_order("O1", gift=True), "order:O1", "gift order (gift)"),
    "other gift flag": (_order("O1", is_gift=True), "order:O1", "gift order (is_gift)"),
    "gift flag as text": (_order("O1", gift="true"), "order:O1", "gift order (gift)"),
    "gift flag as 1": (_order("O1", is_gift=1), "order:O1", "gift order (is_gift)"),
    "gift flag as yes": (_order("O1", gift="Yes"), "order:O1", "gift order (gift)"),
    "gift flag false as text": (_order("O1", gift="false"), None, None),
    "gift flag 0": (_order("O1", gift=0), None, None),
    "recipient's phone differs": (_order("O1", recipient={"phone": "13900000002"}), "order:O1", "recipient differs"),
    "recipient is the buyer": (_order("O1", recipient={"phone": "+8613800000001"}), None, None),
    "recipient is another member": (_order("O1", recipient={"member_id": "M9"}), "order:O1", "recipient differs"),
    "recipient is the same member": (_order("O1", recipient={"member_id": "M1", "phone": "139"}), None, None),
    "no recipient": (_order("O1"), None, None),
}


@pytest.mark.parametrize("case", list(CASES))
def test_signals_of_buying_for_someone_else(case: str) -> None:
    event, occurrence, rule = CASES[case]
    outcome = run(_world(), CustomerState.new("M1"), _registered(), event)[-1]
    found = [h for h in outcome.hits if h.scenario == FRIENDS]
    assert [h.occurrence for h in found] == ([occurrence] if occurrence else [])
    if rule:
        assert found[0].evidence["rule"].startswith(rule)
        assert set(found[0].evidence) == set(SAMPLE_EVIDENCE[FRIENDS])


def test_the_evidence_names_the_phrase_or_the_order_without_the_full_phone() -> None:
    [chat] = run(_world(), CustomerState.new("M1"), _chat("同事过来问这是什么牌子"))[-1].hits
    assert chat.evidence["phrase"] == "什么牌子"
    assert chat.evidence["event_id"] == "chat-同事过来问这是什么牌子-2026-11-20 10:00:00+08:00"
    outcome = run(_world(), CustomerState.new("M1"), _registered(), _order("O7", recipient={"phone": "13912345678"}))
    [order] = outcome[-1].hits
    assert order.evidence["recipient"] == {"name": None, "phone_tail": "5678"}
    assert (order.evidence["order_id"], order.evidence["amount"]) == ("O7", 199)


def _with_journey(world: World, when: str | None = None) -> World:
    trigger: dict[str, Any] = {"scenario": FRIENDS, **({"when": when} if when else {})}
    conditions = FakeConditions({"chat only": lambda c: c["scenario"]["source"] == "chat"})
    return replace(world, journeys=(journey(id="invite", trigger=trigger),), conditions=conditions)


def test_one_hit_per_cooldown() -> None:
    outcomes = run(
        _with_journey(_world(cooldown="7d")),
        CustomerState.new("M1"),
        _chat("什么牌子"),
        _order("O1", gift=True),
        _chat("帮朋友带", NOW + 8 * DAY),
    )
    assert [[h.occurrence for h in o.hits] for o in outcomes] == [["chat:2026-11-20"], [], ["chat:2026-11-28"]]


def test_a_hit_that_enters_no_journey_does_not_start_the_cooldown() -> None:
    world = _with_journey(_world(cooldown="7d"), when="chat only")  # the journey takes chat hits only
    outcomes = run(world, CustomerState.new("M1"), _order("O1", gift=True), _chat("同事问这是什么牌子", NOW + DAY))
    assert [[h.occurrence for h in o.hits] for o in outcomes] == [["order:O1"], ["chat:2026-11-21"]]
    assert [e[0] for e in outcomes[1].journey_events][:1] == ["entered"]
    third = run(world, outcomes[-1].state, _chat("帮朋友带", NOW + 2 * DAY))[-1]
    assert third.hits == ()  # the chat hit entered the journey: its cooldown holds


def test_recipient_checks_can_be_turned_off() -> None:
    world = _world(recipient_differs=False)
    assert run(world, CustomerState.new("M1"), _order("O1", recipient={"member_id": "M9"}))[-1].hits == ()


def test_off_without_its_section() -> None:
    assert run(make_world(), CustomerState.new("M1"), _order("O1", gift=True))[-1].hits == ()
