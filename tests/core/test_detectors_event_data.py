"""The data detectors read is validated at the door: bad data is an InputError naming the field."""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator.core import check_data
from orchestrator.errors import InputError
from tests.builders import NOW, make_event

BAD: dict[str, tuple[str, dict[str, Any], str]] = {
    "chat without text": ("chat.message", {"from": "customer"}, "invalid chat.message data: text: Field required"),
    "chat text not a string": ("chat.message", {"text": 5}, "text: Input should be a valid string"),
    "survey score not a number": ("survey.answered", {"metric": "ces", "score": "hard"}, "score: Input should be"),
    "survey with an empty touchpoint": ("survey.answered", {"touchpoint": ""}, "touchpoint: String should have"),
    "service mileage below zero": ("service.completed", {"mileage": -1}, "mileage: Input should be greater than"),
    "recipient not a mapping": (
        "order.paid",
        {"order_id": "O1", "recipient": "朋友"},
        "recipient: Input should be a valid dictionary",
    ),
    "a time zone that is a folder": ("customer.registered", {"tz": "Asia"}, "tz: Value error, unknown time zone"),
    "a time zone too long for a file name": ("customer.registered", {"tz": "x" * 300}, "unknown time zone"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_data_is_refused_with_the_field(case: str) -> None:
    type_, data, message = BAD[case]
    with pytest.raises(InputError, match=message.replace("(", r"\(")) as caught:
        check_data(make_event(type_, NOW, data))
    assert caught.value.code == "data"


GOOD: dict[str, tuple[str, dict[str, Any]]] = {
    "chat from the customer, old key": ("chat.message", {"text": "快吃完了", "from": "customer", "chat": "private"}),
    "chat, sender key": ("chat.message", {"text": "好的", "sender": "staff"}),
    "survey without a score": ("survey.answered", {"question": "还在犹豫什么？", "answer": "担心闲置"}),
    "order line with a category": ("order.paid", {"order_id": "O1", "items": [{"sku": "X", "category": "coffee"}]}),
    "gift order for a friend": ("order.paid", {"order_id": "O1", "gift": True, "recipient": {"phone": "139"}}),
    "service with a brand": ("service.completed", {"brand": "大众", "model": "途观L", "mileage": 30000}),
}


@pytest.mark.parametrize("case", list(GOOD))
def test_good_data_passes(case: str) -> None:
    type_, data = GOOD[case]
    check_data(make_event(type_, NOW, data))
