"""The hot path's encodes write the same bytes as the plain forms they replace, and the depth
check's shortcut never lets through data nested too deep."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.core import Action
from orchestrator.core.effects import JourneyRef
from orchestrator.core.journey_log import KINDS, LogRecord
from orchestrator.service import codec
from orchestrator.service.deadletter import deeper_than

texts = st.text(max_size=12)  # any code point: controls, quotes, backslashes, CJK, astral, U+2028
optional = st.none() | texts
moments = st.builds(
    datetime,
    st.integers(2000, 2100),
    st.integers(1, 12),
    st.integers(1, 28),
    st.integers(0, 23),
    st.integers(0, 59),
    st.integers(0, 59),
    st.sampled_from([0, 1, 123456, 999999]),
    tzinfo=st.sampled_from([UTC, timezone(timedelta(hours=8)), timezone(timedelta(hours=-3, minutes=-30))]),
)
log_records = st.builds(
    LogRecord,
    at=moments,
    customer_id=texts,
    journey=texts,
    version=st.integers(0, 10**9),
    kind=st.sampled_from(KINDS),
    instance=optional,
    variant=optional,
    step=optional,
    action_id=optional,
    channel=optional,
    reason=optional,
    rule=optional,
)


@settings(max_examples=300, deadline=None, database=None)
@given(key=texts, records=st.lists(log_records, max_size=4).map(tuple))
def test_a_journey_log_record_is_the_json_of_its_compact_records(key: str, records: tuple[LogRecord, ...]) -> None:
    assert codec.encode_log(key, records) == orjson.dumps({"input": key, "records": [r.compact() for r in records]})


def test_an_action_is_its_model_json() -> None:
    at = datetime(2026, 11, 20, 10, 2, tzinfo=UTC)
    action = Action(
        action_id="a-1",
        channel="sms",
        customer_id="M1",
        to={"phone": "+8613800000000"},
        content={"text": '欢迎 \u2028 "quoted" \\ \x01', "n": 1.5, "list": [1, None, True]},
        journey=JourneyRef(id="welcome", version=2, step="send", variant="b"),
        scenario=None,
        created_at=at,
        not_after=at + timedelta(days=1),
    )
    assert codec.encode_action(action) == action.model_dump_json().encode()


def _nested(depth: int) -> Any:
    value: Any = 1
    for n in range(depth):
        value = [value] if n % 2 else {"k": value}
    return value


@settings(max_examples=200, deadline=None, database=None)
@given(depth=st.integers(0, 40), padding=st.text(alphabet="[]{}x", max_size=40))
def test_the_raw_shortcut_agrees_with_the_walk(depth: int, padding: str) -> None:
    """With or without the record's bytes, the answer is the walk's (strings full of brackets included)."""
    data = {"note": padding, "v": _nested(depth)}
    raw = orjson.dumps({"id": "e1", "identity": {"member_id": "M1"}, "data": data})
    assert deeper_than(data, 32, raw) == deeper_than(data, 32)
    assert deeper_than(data, 32) == (depth + 1 > 32)
