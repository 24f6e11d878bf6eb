"""moving_house: big kitchen appliances within a window, install requests, chat about 装修 / 搬家 / 乔迁."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest

from orchestrator.core import CustomerState, Event, World
from orchestrator.core.scenario_spec import ScenarioSettings
from orchestrator.core.scenarios.names import SAMPLE_EVIDENCE
from tests.builders import NOW, journey, make_event, make_world, refund, run

DAY = timedelta(days=1)
MOVING = "moving_house"


def _world(**moving: Any) -> World:
    settings = {
        "chat": {"intents": {"moving": {"phrases": ["装修", "搬家", "乔迁"]}}},
        "moving_house": {"categories": ["range_hood", "gas_stove", "dishwasher"], "chat_intent": "moving", **moving},
    }
    return replace(make_world(), scenarios=ScenarioSettings.model_validate(settings))


def _order(order_id: str, at: datetime, *categories: str, amount: float = 5000) -> Event:
    items = [{"sku": f"SKU-{c}", "category": c} for c in categories]
    return make_event("order.paid", at, {"order_id": order_id, "amount": amount, "items": items}, id_=f"pay-{order_id}")


def _occurrences(world: World, *events: Event) -> list[list[str]]:
    outcomes = run(world, CustomerState.new("M1"), *events)
    return [[h.occurrence for h in o.hits if h.scenario == MOVING] for o in outcomes]


CASES: dict[str, tuple[list[Event], list[list[str]]]] = {
    "hood and stove within the window": (
        [_order("O1", NOW, "range_hood"), _order("O2", NOW + 10 * DAY, "gas_stove")],
        [[], ["orders:2026-11-20"]],
    ),
    "both in one order": ([_order("O1", NOW, "range_hood", "gas_stove")], [["orders:2026-11-20"]]),
    "too far apart": ([_order("O1", NOW, "range_hood"), _order("O2", NOW + 31 * DAY, "gas_stove")], [[], []]),
    "the same category twice": ([_order("O1", NOW, "range_hood"), _order("O2", NOW + DAY, "range_hood")], [[], []]),
    "small appliances": ([_order("O1", NOW, "air_fryer"), _order("O2", NOW, "kettle")], [[], []]),
    "refunded first appliance": (
        [_order("O1", NOW, "range_hood"), refund(NOW + DAY, "O1"), _order("O2", NOW + 2 * DAY, "gas_stove")],
        [[], [], []],
    ),
    "late upload of the earlier one": (
        [_order("O2", NOW + 10 * DAY, "gas_stove"), _order("O1", NOW, "range_hood")],
        [[], ["orders:2026-11-20"]],
    ),
    "install request": (
        [make_event("install.requested", NOW, {"category": "range_hood", "address": "新家"})],
        [["install:2026-11-20"]],
    ),
    "install of something else": ([make_event("install.requested", NOW, {"category": "tv"})], [[]]),
    "chat about renovation": ([make_event("chat.message", NOW, {"text": "新房在装修"})], [["chat:2026-11-20"]]),
    "chat, negated": ([make_event("chat.message", NOW, {"text": "我们不装修"})], [[]]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_signals_of_a_move(case: str) -> None:
    events, expected = CASES[case]
    assert _occurrences(_world(min_categories=2), *events) == expected


def test_one_appliance_is_enough_when_configured_so() -> None:
    assert _occurrences(_world(min_categories=1), _order("O1", NOW, "dishwasher")) == [["orders:2026-11-20"]]


def test_one_move_is_one_moment() -> None:
    events = (
        make_event("chat.message", NOW - DAY, {"text": "下个月搬家"}),
        _order("O1", NOW, "range_hood", "gas_stove"),
        make_event("install.requested", NOW + DAY, {}),
        make_event("chat.message", NOW + 200 * DAY, {"text": "又要搬家了"}),
    )
    world = _world(min_categories=2, cooldown="180d")
    world = replace(world, journeys=(journey(id="move", trigger={"scenario": MOVING}),))  # hits enter it
    assert _occurrences(world, *events) == [
        ["chat:2026-11-19"],
        [],
        [],
        ["chat:2027-06-08"],
    ]


def test_the_evidence_lists_the_orders_categories_and_amount() -> None:
    outcome = run(
        _world(),
        CustomerState.new("M1"),
        _order("O1", NOW, "range_hood", amount=6999),
        _order("O2", NOW + DAY, "gas_stove", amount=3000),
    )[-1]
    [hit] = outcome.hits
    assert hit.evidence["categories"] == ["gas_stove", "range_hood"]
    assert hit.evidence["orders"] == ["O1", "O2"]
    assert hit.evidence["amount"] == 9999
    assert hit.evidence["rule"] == "2 big kitchen categories within 30d"
    assert hit.at == NOW + DAY
    assert set(hit.evidence) == set(SAMPLE_EVIDENCE[MOVING])
