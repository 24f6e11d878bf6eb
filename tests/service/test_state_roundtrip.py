"""Any sequence of schema-valid events leaves a state that round-trips through JSON (what Redis
stores), through the shipped journeys, scenarios and templates, with numbers at their bounds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestrator.bootstrap import load_world
from orchestrator.core import CustomerState, World, process
from orchestrator.core.event_data import MAX_MILEAGE, MAX_MONEY, MAX_QTY, MAX_SCORE
from orchestrator.core.events import MAX_IDENTIFIER_CHARS
from orchestrator.core.migrations import dump_state, load_state
from orchestrator.service import codec
from orchestrator.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
START = datetime(2026, 11, 1, tzinfo=UTC)


@cache
def world() -> World:
    return load_world(Settings(xo_journeys_dir=ROOT / "journeys", xo_templates_dir=ROOT / "templates"))[1]


texts = st.text(max_size=30)
money = st.one_of(st.just(MAX_MONEY), st.floats(0, MAX_MONEY, allow_nan=False))
skus = st.sampled_from(["PRO-900", "PRO-450", "VITC-60", "STEAMER-1", "X-UNKNOWN", "s" * 200])
item = st.fixed_dictionaries(
    {"sku": skus, "qty": st.one_of(st.just(float(MAX_QTY)), st.floats(0.001, MAX_QTY)), "price": money},
    optional={"category": st.sampled_from(["protein", "vitamin", "kitchen", "c" * 100])},
)
order_ids = st.one_of(st.sampled_from(["O1", "O2", "O3"]), st.text(min_size=1, max_size=200))
data_by_type: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    "order.paid": st.fixed_dictionaries(
        {"order_id": order_ids, "amount": money, "items": st.lists(item, max_size=3)},
    ),
    "order.refunded": st.fixed_dictionaries({"order_id": order_ids}),
    "customer.registered": st.fixed_dictionaries(
        {"name": st.text(max_size=100), "attributes": st.dictionaries(st.text(min_size=1, max_size=64), texts)}
    ),
    "profile.updated": st.fixed_dictionaries(
        {
            "attributes": st.dictionaries(
                st.text(min_size=1, max_size=8), st.floats(allow_nan=False, allow_infinity=False)
            )
        }
    ),
    "service.completed": st.fixed_dictionaries({"brand": st.text(max_size=100), "mileage": st.floats(0, MAX_MILEAGE)}),
    "consent.changed": st.fixed_dictionaries({"channel": st.text(min_size=1, max_size=40), "granted": st.booleans()}),
    "chat.message": st.fixed_dictionaries(
        {"text": st.sampled_from(["快吃完了", "同事过来问这是什么牌子", "装修"]) | texts}
    ),
    "survey.answered": st.fixed_dictionaries(
        {
            "metric": st.sampled_from(["nps", "ces", "csat", "other"]),
            "score": st.one_of(st.just(MAX_SCORE), st.just(-MAX_SCORE), st.floats(-MAX_SCORE, MAX_SCORE)),
            "answer": st.sampled_from(["担心闲置", "好"]) | texts,
            "touchpoint": st.text(min_size=1, max_size=100),
        }
    ),
    "x_unknown.thing": st.fixed_dictionaries({"v": st.floats(allow_nan=False, allow_infinity=False) | texts}),
}


@st.composite
def events(draw: st.DrawFn, index: int) -> dict[str, Any]:
    type_ = draw(st.sampled_from(sorted(data_by_type)))
    return {
        "id": f"e{index}-{draw(st.text(max_size=8))}",
        "type": type_,
        "time": (START + timedelta(hours=draw(st.integers(0, 24 * 60)))).isoformat(),
        "identity": {"member_id": "M1", "phone": draw(st.text(min_size=1, max_size=MAX_IDENTIFIER_CHARS))},
        "data": draw(data_by_type[type_]),
    }


histories = st.integers(1, 25).flatmap(lambda n: st.tuples(*(events(i) for i in range(n))))


@settings(
    max_examples=100,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(history=histories)
def test_any_valid_history_leaves_a_state_that_round_trips_through_json(history: tuple[dict[str, Any], ...]) -> None:
    state = CustomerState.new("M1")
    for payload in history:
        _, event = codec.decode_input(orjson.dumps(payload))  # schema-valid: the door takes it
        state = process(state, event, START + timedelta(days=61), world()).state
        stored = dump_state(state)
        assert load_state(stored) == state, stored[:2000]
    assert state.profile.spent <= MAX_MONEY * len(history)


def test_a_crawling_car_is_not_a_poison_record() -> None:
    """Two readings 1 km apart in 30 days: the daily distance rounds to 0 (it was divided by)."""
    state = CustomerState.new("M1")
    for n, km in enumerate((0.0, 1.0)):
        payload = {
            "id": f"s{n}",
            "type": "service.completed",
            "time": (START + timedelta(days=30 * n)).isoformat(),
            "identity": {"member_id": "M1"},
            "data": {"mileage": km},
        }
        state = process(state, codec.decode_input(orjson.dumps(payload))[1], START + timedelta(days=61), world()).state
    assert [s.mileage for s in state.profile.services] == [0.0, 1.0]
