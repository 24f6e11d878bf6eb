"""buying_for_friends (帮助亲友购买): someone around the customer wants the product.

Signals: a chat line where a friend or colleague asked about it ("同事过来问这是什么牌子",
"帮朋友带一份", "送人"); an order flagged as a gift (any of ``gift_fields`` true in the
order data); an order whose recipient is somebody else (a different member id, or a
different phone than the buyer's). One hit per order or per chat day, and none within
``cooldown`` of the previous one counted (a gift order the journeys on this scenario do not
take does not silence the chat line they would). Gift flags count as true when ``true``, ``1``,
``"true"``, ``"1"``, ``"yes"`` or ``"是"``.
"""

from __future__ import annotations

from typing import Any

from orchestrator.core.event_data import OrderPaid, Recipient
from orchestrator.core.scenario_spec import FriendsSettings
from orchestrator.core.scenarios.base import Found, Signal, chat_evidence, cooled, hit, local_day
from orchestrator.core.scenarios.names import BUYING_FOR_FRIENDS
from orchestrator.core.state import CustomerState, Profile

_EMPTY = {"phrase": None, "text": None, "event_id": None, "order_id": None, "amount": None, "recipient": None}


def on_event(state: CustomerState, sig: Signal) -> Found:
    settings = sig.settings.buying_for_friends
    if settings is None or sig.event is None:
        return state, []
    found = _from_order(state.profile, sig, settings) or _from_chat(state.profile, sig, settings)
    if found is None or not cooled(state.profile, BUYING_FOR_FRIENDS, sig.at, settings.cooldown):
        return state, []
    occurrence, evidence = found
    return state, [hit(BUYING_FOR_FRIENDS, state, occurrence, sig.at, evidence)]


def _from_chat(profile: Profile, sig: Signal, settings: FriendsSettings) -> tuple[str, dict[str, Any]] | None:
    match = sig.intent(settings.chat_intent)
    if match is None or sig.event is None:
        return None
    evidence = {**_EMPTY, "rule": f"chat intent {match.intent}", **chat_evidence(match, sig.event)}
    return f"chat:{local_day(profile, sig.at).isoformat()}", evidence


def _from_order(profile: Profile, sig: Signal, settings: FriendsSettings) -> tuple[str, dict[str, Any]] | None:
    if sig.event is None or sig.event.type != "order.paid":
        return None
    data = OrderPaid.model_validate(sig.event.data)
    flags = [f for f in settings.gift_fields if truthy(sig.event.data.get(f))]
    rule = f"gift order ({flags[0]})" if flags else None
    if rule is None and settings.recipient_differs and _someone_else(profile, data.recipient):
        rule = "recipient differs from buyer"
    if rule is None:
        return None
    evidence = {
        **_EMPTY,
        "rule": rule,
        "source": "order",
        "event_id": sig.event.id,
        "order_id": data.order_id,
        "amount": data.amount,
        "recipient": _masked(data.recipient),
    }
    return f"order:{data.order_id}", evidence


_TRUE_WORDS = frozenset({"true", "1", "yes", "y", "是"})


def truthy(value: object) -> bool:
    """A flag as upstream systems send it: true, 1, "true", "1", "yes", "是" (any case)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value == 1
    return isinstance(value, str) and value.strip().lower() in _TRUE_WORDS


def _someone_else(profile: Profile, recipient: Recipient | None) -> bool:
    if recipient is None:
        return False
    member = profile.identity.get("member_id")
    if recipient.member_id and member:
        return recipient.member_id != member
    buyer, receiver = _digits(profile.identity.get("phone")), _digits(recipient.phone)
    return bool(buyer and receiver and buyer != receiver)


def _digits(phone: str | None) -> str:
    return "".join(c for c in phone or "" if c.isdigit())[-11:]


def _masked(recipient: Recipient | None) -> dict[str, Any] | None:
    """Enough to read the evidence, not a contact list: the name and the phone's last four digits."""
    if recipient is None:
        return None
    phone = _digits(recipient.phone)
    return {"name": recipient.name, "phone_tail": phone[-4:] if phone else None}
