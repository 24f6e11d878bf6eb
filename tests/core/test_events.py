"""Bad input: every rejection names the field and has a short reason code for the metric."""

from __future__ import annotations

import pytest

from orchestrator.errors import InputError
from orchestrator.service.codec import dead_letter, decode_event, decode_input

GOOD = (
    b'{"id":"e1","type":"order.paid","time":"2026-11-20T10:02:00+08:00","identity":{"member_id":"M1"},'
    b'"data":{"order_id":"O-88","amount":399.0,"items":[{"sku":"PRO-900","qty":2}]}}'
)


def test_a_valid_event_decodes_with_its_customer() -> None:
    cid, event = decode_event(GOOD)
    assert cid == "M1"
    assert event.type == "order.paid"
    assert event.data["order_id"] == "O-88"


@pytest.mark.parametrize(
    ("raw", "code", "message"),
    [
        (b"not json", "json", "invalid JSON"),
        (None, "json", "empty record"),
        (b"[1, 2]", "schema", "expected a JSON object, got list"),
        (
            b'{"type":"order.paid","time":"2026-11-20T10:02:00+08:00","identity":{"member_id":"M1"}}',
            "schema",
            "id: Field required",
        ),
        (
            b'{"id":"e","type":"x.y","time":"2026-11-20T10:02:00","identity":{"member_id":"M1"}}',
            "schema",
            "time: Input should have timezone info",
        ),
        (b'{"id":"e","type":"x.y","time":"yesterday","identity":{"member_id":"M1"}}', "schema", "time:"),
        (
            b'{"id":"e","type":"x.y","time":"2026-11-20T10:02:00Z","identity":{}}',
            "schema",
            "identity: Value error, needs at least one identifier",
        ),
        (b'{"id":"e","type":"Bad Type!","time":"2026-11-20T10:02:00Z","identity":{"phone":"1"}}', "schema", "type:"),
        (
            b'{"id":"e","type":"x.y","time":"2026-11-20T10:02:00Z","identity":{"phone":"+86138"}}',
            "routing",
            "identity.phone: '+86138' is not a phone number",
        ),
        (
            b'{"id":"e","type":"order.paid","time":"2026-11-20T10:02:00Z","identity":{"member_id":"M1"},'
            b'"data":{"order_id":"O","items":[{"sku":"A","qty":-1}]}}',
            "data",
            "items.0.qty",
        ),
        (
            b'{"id":"e","type":"customer.registered","time":"2026-11-20T10:02:00Z","identity":{"member_id":"M1"},'
            b'"data":{"tz":"Mars/Olympus"}}',
            "data",
            "unknown time zone",
        ),
    ],
)
def test_bad_events_are_rejected_with_a_reason_naming_the_field(raw: bytes | None, code: str, message: str) -> None:
    with pytest.raises(InputError) as caught:
        decode_event(raw)
    assert caught.value.code == code
    assert message in caught.value.reason


def test_a_timer_record_decodes_to_its_customer() -> None:
    cid, timer = decode_input(
        b'{"kind":"timer","customer_id":"M9","timer_id":"cycle:x","due_at":"2026-11-20T00:00:00Z"}'
    )
    assert cid == "M9"
    assert timer.kind == "timer"


def test_the_dead_letter_keeps_the_payload_and_the_reason() -> None:
    record = dead_letter(b"\xff\xfe", "invalid JSON: x", "xo.events[0]@3")
    assert record == b'{"reason":"invalid JSON: x","source":"xo.events[0]@3","payload":"fffe"}'


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (
            b'{"id":"e","type":"x.y","time":"9999-12-31T10:00:00Z","identity":{"member_id":"M1"}}',
            "year 9999 is outside 1970-2199",
        ),
        (
            b'{"id":"e","type":"order.paid","time":"2026-11-20T10:02:00Z","identity":{"member_id":"M1"},'
            b'"data":{"order_id":"O","items":[{"sku":"A","qty":1000000}]}}',
            "items.0.qty",
        ),
    ],
)
def test_implausible_values_are_rejected_before_they_reach_date_arithmetic(raw: bytes, message: str) -> None:
    with pytest.raises(InputError, match=message):
        decode_event(raw)
