"""Typed ``data`` of the event types the core folds; other types pass through untyped."""

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

from orchestrator.core.events import Event, describe_validation_error
from orchestrator.errors import InputError


class _Data(BaseModel):
    model_config = ConfigDict(frozen=True, extra="allow")


class OrderItem(_Data):
    sku: str = Field(min_length=1)
    qty: PositiveFloat = Field(default=1, le=100_000)  # beyond this, an upload error, not an order
    price: NonNegativeFloat | None = None
    category: str | None = Field(default=None, max_length=100)  # for SKUs the catalog does not list
    name: str | None = Field(default=None, max_length=200)


class Recipient(_Data):
    """Who receives the parcel, when the source knows (a gift, an order for a friend)."""

    name: str | None = Field(default=None, max_length=100)
    phone: str | None = Field(default=None, max_length=40)
    member_id: str | None = Field(default=None, max_length=200)


class OrderPaid(_Data):
    order_id: str = Field(min_length=1)
    amount: NonNegativeFloat = 0
    items: tuple[OrderItem, ...] = ()
    recipient: Recipient | None = None


class OrderRefunded(_Data):
    order_id: str = Field(min_length=1)


class CustomerRegistered(_Data):
    name: str | None = Field(default=None, max_length=100)
    tz: str | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)

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
    mileage: NonNegativeFloat | None = None


class ChatMessage(_Data):
    """A WeCom line (1v1 or group); only the customer's own lines are read for intents."""

    model_config = ConfigDict(frozen=True, extra="allow", populate_by_name=True)

    text: str = Field(max_length=4000)
    sender: str = Field(default="customer", alias="from", max_length=40)  # customer, staff, bot, …


class SurveyAnswered(_Data):
    survey_id: str | None = Field(default=None, max_length=200)
    question: str | None = Field(default=None, max_length=500)
    answer: str | None = Field(default=None, max_length=2000)
    metric: str | None = Field(default=None, max_length=40)  # nps, ces (费力度), csat, …
    score: float | None = None
    touchpoint: str = Field(default="general", min_length=1, max_length=100)


class ConsentChanged(_Data):
    channel: str
    granted: bool


DATA_MODELS: dict[str, type[_Data]] = {
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
