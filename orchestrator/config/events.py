"""The event types journeys may name: the built-in ones, plus those operators declare.

A goal, an ``exit_on``, a ``wait_for`` or an event trigger on a type that never arrives
validates in a schema and then never fires. So every type a journey names must be known:
built in (the input contract, ``DESIGN.md``), or declared in ``journeys/events.yaml``::

    events:
      appointment.booked: 门店预约成功（预约系统）
      referral.succeeded: 好友通过邀请下单（推荐系统，路由到邀请人）
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

EVENTS_FILE = "events.yaml"

# The input contract's types: O data, X data, feedback from channels and the workbench.
BUILTIN_EVENTS: dict[str, str] = {
    "customer.registered": "a customer signed up (attributes, identity)",
    "profile.updated": "attributes changed in the CRM",
    "order.paid": "an order was paid (items, amount)",
    "order.refunded": "an order was refunded",
    "product.viewed": "a product page was viewed",
    "cart.added": "a product went into the cart",
    "coupon.redeemed": "a coupon was used",
    "service.completed": "a service was done (car brand, model, mileage)",
    "chat.message": "a WeCom line, 1v1 or group",
    "survey.answered": "a survey answer (NPS, CES 费力度, CSAT)",
    "call.completed": "a call ended",
    "message.delivered": "a channel delivered an action",
    "message.clicked": "a link in an action was clicked",
    "message.replied": "the customer replied to an action",
    "message.failed": "a channel could not deliver an action",
    "consent.changed": "consent for a channel was given or withdrawn",
    "identity.linked": "two identifiers are one person",
    "task.completed": "an associate did a task",
    "task.skipped": "an associate chose not to do a task",
}

EventType = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$", max_length=100)]


class EventsFile(BaseModel):
    """``journeys/events.yaml``: the event types this installation adds, each with what it means."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    events: dict[EventType, str] = Field(default_factory=dict, description="event type → what it means, who sends it")


def known_events(declared: EventsFile | None) -> frozenset[str]:
    return frozenset(BUILTIN_EVENTS) | frozenset(declared.events if declared else ())


def did_you_mean(word: str, choices: Iterable[str], cutoff: float = 0.6) -> str:
    """`` (did you mean 'x'?)`` for the closest choice, or an empty string."""
    words = list(choices)
    close = difflib.get_close_matches(word, words, n=1, cutoff=cutoff)
    return f" (did you mean {close[0]!r}?)" if close else ""


def unknown_event(name: str, known: frozenset[str], scenarios: frozenset[str], declared_in: str) -> str | None:
    """Why ``name`` can never arrive, or None when it can."""
    if name in known:
        return None
    if name in scenarios:
        return f"{name!r} is a scenario, not an event: a journey starts on it with `trigger: {{scenario: {name}}}`"
    return (
        f"unknown event type {name!r}{did_you_mean(name, known)}: no such event ever arrives; "
        f"declare the types your systems send in {declared_in}"
    )
