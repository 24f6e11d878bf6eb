"""Typed ``data`` of the event types the core folds; other types pass through untyped.

Numbers are bounded at the door: an amount, price, quantity, mileage or score beyond any
real order or car is an upload error, and sums of such figures could overflow a float
(two amounts of 1e308 make ``spent`` infinite, which JSON cannot hold). Strings and
collections are bounded too, so that no event can grow a customer's state without limit
(``core.limits`` bounds what accumulates across events).
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeFloat,
    PositiveFloat,
    ValidationError,
    field_validator,
)
from pydantic_core import to_json

from orchestrator.core.events import Event, describe_validation_error
from orchestrator.errors import InputError

MAX_MONEY = 1_000_000_000.0  # yuan: an amount or price above a billion is an upload error
MAX_QTY = 100_000
MAX_MILEAGE = 10_000_000.0  # km
MAX_SCORE = 1_000_000.0  # survey scores, either sign; scales are much narrower
MAX_ITEMS = 200  # lines in one order
MAX_ID_CHARS = 200  # order ids, SKUs, survey ids
MAX_ATTRIBUTES_PER_EVENT = 64
MAX_ATTRIBUTE_KEY_CHARS = 64
MAX_ATTRIBUTE_VALUE_BYTES = 1024  # one attribute's value as JSON


class _Data(BaseModel):
    model_config = ConfigDict(frozen=True, extra="allow")


class OrderItem(_Data):
    sku: str = Field(min_length=1, max_length=MAX_ID_CHARS)
    qty: PositiveFloat = Field(default=1, le=MAX_QTY)  # beyond this, an upload error, not an order
    price: NonNegativeFloat | None = Field(default=None, le=MAX_MONEY)
    category: str | None = Field(default=None, max_length=100)  # for SKUs the catalog does not list
    name: str | None = Field(default=None, max_length=200)


class Recipient(_Data):
    """Who receives the parcel, when the source knows (a gift, an order for a friend)."""

    name: str | None = Field(default=None, max_length=100)
    phone: str | None = Field(default=None, max_length=40)
    member_id: str | None = Field(default=None, max_length=200)


class OrderPaid(_Data):
    order_id: str = Field(min_length=1, max_length=MAX_ID_CHARS)
    amount: NonNegativeFloat = Field(default=0, le=MAX_MONEY)
    items: tuple[OrderItem, ...] = Field(default=(), max_length=MAX_ITEMS)
    recipient: Recipient | None = None


class OrderRefunded(_Data):
    order_id: str = Field(min_length=1, max_length=MAX_ID_CHARS)


class CustomerRegistered(_Data):
    name: str | None = Field(default=None, max_length=100)
    tz: str | None = None  # a known zone name (checked below), so bounded
    attributes: dict[str, Any] = Field(default_factory=dict, max_length=MAX_ATTRIBUTES_PER_EVENT)

    @field_validator("attributes")
    @classmethod
    def _small_attributes(cls, value: dict[str, Any]) -> dict[str, Any]:
        for key, item in value.items():
            if not 0 < len(key) <= MAX_ATTRIBUTE_KEY_CHARS:
                raise ValueError(f"attribute name of {len(key)} characters (1-{MAX_ATTRIBUTE_KEY_CHARS})")
            size = len(to_json(item))
            if size > MAX_ATTRIBUTE_VALUE_BYTES:
                raise ValueError(f"attribute {key!r}: {size} bytes as JSON (at most {MAX_ATTRIBUTE_VALUE_BYTES})")
        return value

    @field_validator("tz")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError, OSError) as exc:  # OSError: a folder, a name too long
                raise ValueError(f"unknown time zone {value!r}") from exc
        return value


class ServiceCompleted(_Data):
    brand: str | None = Field(default=None, max_length=100)
    model: str | None = Field(default=None, max_length=100)
    mileage: NonNegativeFloat | None = Field(default=None, le=MAX_MILEAGE)


class ChatMessage(_Data):
    """A WeCom line (1v1 or group); only the customer's own lines are read for intents."""

    model_config = ConfigDict(frozen=True, extra="allow", populate_by_name=True)

    text: str = Field(max_length=4000)
    sender: str = Field(default="customer", alias="from", max_length=40)  # customer, staff, bot, …


class SurveyAnswered(_Data):
    survey_id: str | None = Field(default=None, max_length=MAX_ID_CHARS)
    question: str | None = Field(default=None, max_length=500)
    answer: str | None = Field(default=None, max_length=2000)
    metric: str | None = Field(default=None, max_length=40)  # nps, ces (费力度), csat, …
    score: float | None = Field(default=None, ge=-MAX_SCORE, le=MAX_SCORE)
    touchpoint: str = Field(default="general", min_length=1, max_length=100)


class ConsentChanged(_Data):
    channel: str = Field(min_length=1, max_length=40)
    granted: bool


class ContactAdded(_Data):
    """A staff member (导购) added the customer as a WeCom contact: they own it from now on."""

    staff_id: str = Field(min_length=1, max_length=200)


class StaffHandover(_Data):
    """离职继承 / reassignment: the customer's contact passes to another staff member."""

    to_staff: str = Field(min_length=1, max_length=200)
    from_staff: str | None = Field(default=None, max_length=200)


DATA_MODELS: dict[str, type[_Data]] = {
    "contact.added": ContactAdded,
    "staff.handover": StaffHandover,
    "order.paid": OrderPaid,
    "order.refunded": OrderRefunded,
    "customer.registered": CustomerRegistered,
    "profile.updated": CustomerRegistered,
    "service.completed": ServiceCompleted,
    "consent.changed": ConsentChanged,
    "chat.message": ChatMessage,
    "survey.answered": SurveyAnswered,
}


def check_data(event: Event) -> None:
    """Raise InputError when a known event type carries malformed ``data``."""
    model = DATA_MODELS.get(event.type)
    if model is None:
        return
    try:
        model.model_validate(event.data)
    except ValidationError as exc:
        raise InputError(f"invalid {event.type} data: {describe_validation_error(exc)}", "data") from exc
