"""The input contract: the event envelope and the timer firing, as frozen values."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)

from orchestrator.core.identity import IdentityRules, canonical_id, usable_identifiers
from orchestrator.errors import InputError

DEFAULT_RULES = IdentityRules()

# The built-in identifier types; journeys/identity.yaml may declare more (core/identity.py).
IDENTITY_KEYS = ("member_id", "phone", "wecom_external_id", "unionid", "openid", "email")
# Event types the engine documents; metrics label other types ``other`` (labels must stay few).
KNOWN_EVENT_TYPES = frozenset(
    {
        "customer.registered",
        "profile.updated",
        "order.paid",
        "order.refunded",
        "product.viewed",
        "cart.added",
        "coupon.redeemed",
        "service.completed",
        "install.requested",
        "chat.message",
        "survey.answered",
        "call.completed",
        "message.delivered",
        "message.clicked",
        "message.replied",
        "message.failed",
        "consent.changed",
        "identity.linked",
        "task.completed",
        "task.skipped",
    }
)
# An identifier travels into record keys, Redis keys and actions: bounded at the door.
MAX_IDENTIFIER_CHARS = 200
MAX_IDENTITY_ENTRIES = 16


class Event(BaseModel):
    """A customer event as it arrives on ``xo.events``."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    kind: Literal["event"] = "event"
    id: str = Field(min_length=1, max_length=200)
    type: str = Field(min_length=1, max_length=100, pattern=r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$")
    time: AwareDatetime
    source: str | None = Field(default=None, max_length=200)
    identity: dict[str, str] = Field(max_length=MAX_IDENTITY_ENTRIES)
    data: dict[str, Any] = Field(default_factory=dict)

    @field_validator("time")
    @classmethod
    def _plausible_time(cls, value: datetime) -> datetime:
        # Far-off years are upload errors, and date arithmetic on them overflows.
        if not 1970 <= value.year < 2200:
            raise ValueError(f"year {value.year} is outside 1970-2199")
        return value

    @field_validator("identity")
    @classmethod
    def _one_identifier(cls, value: dict[str, str]) -> dict[str, str]:
        for key, item in value.items():
            if len(key) > MAX_IDENTIFIER_CHARS or len(item) > MAX_IDENTIFIER_CHARS:
                raise ValueError(f"{key[:40]!r}: identifiers have at most {MAX_IDENTIFIER_CHARS} characters")
        # Any type may be an operator-declared one: the identify stage checks them against the rules.
        if not any(v.strip() for v in value.values()):
            raise ValueError(f"needs at least one identifier ({', '.join(IDENTITY_KEYS)} or a declared type)")
        return value


class TimerFired(BaseModel):
    """A durable timer came due; it travels the same path as events, keyed by customer."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["timer"] = "timer"
    customer_id: str
    timer_id: str
    due_at: AwareDatetime


Input = Event | TimerFired


def describe_validation_error(exc: ValidationError) -> str:
    """One line per problem, naming the field path: ``data.items.0.qty: Input should be …``."""
    parts = []
    for err in exc.errors(include_url=False):
        where = ".".join(str(p) for p in err["loc"]) or "(root)"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)


def parse_event(payload: dict[str, Any]) -> Event:
    """Validate a decoded JSON object as an event, or raise InputError naming the field."""
    try:
        return Event.model_validate(payload)
    except ValidationError as exc:
        raise InputError(f"invalid event: {describe_validation_error(exc)}") from exc


def customer_key(event: Event, rules: IdentityRules | None = None) -> str:
    """The customer id of an event seen alone, without the identity graph: the canonical id of
    its first identifier (a member id when it has one). Workers route through the graph
    (service/identify.py) and take the id from the record key."""
    found, errors = usable_identifiers(event.identity, rules or DEFAULT_RULES)
    if not found and errors:
        raise InputError(f"invalid event: {errors[0]}", "routing")
    if found:
        return canonical_id(found[0])
    kind, value = min((k, v.strip()) for k, v in event.identity.items() if v.strip())  # a declared type
    return f"{kind}:{value}"
