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
    qty: PositiveFloat = 1
    price: NonNegativeFloat | None = None


class OrderPaid(_Data):
    order_id: str = Field(min_length=1)
    amount: NonNegativeFloat = 0
    items: tuple[OrderItem, ...] = ()


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
            except (ZoneInfoNotFoundError, ValueError) as exc:
                raise ValueError(f"unknown time zone {value!r}") from exc
        return value


class ServiceCompleted(_Data):
    model: str | None = Field(default=None, max_length=100)
    mileage: NonNegativeFloat | None = None


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
