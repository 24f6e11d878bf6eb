"""Paid orders per customer from an events file (JSON Lines), as the profile folds them.

``order.paid`` adds an order (its amount, the categories of its lines), ``order.refunded``
takes it out again; other event types are skipped. A customer is the event's first
identifier by priority (``core.identity``), as a new customer's id is made. A line that is
not an event is an error naming the file and line.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from pydantic import ValidationError

from orchestrator.core import parse_event
from orchestrator.core.event_data import OrderPaid, OrderRefunded
from orchestrator.core.identity import IdentityRules, canonical_id, usable_identifiers
from orchestrator.errors import InputError


@dataclass(frozen=True)
class Order:
    order_id: str
    time: datetime
    amount: float
    categories: tuple[str, ...]


History = dict[str, list[Order]]  # customer → paid orders, oldest first


def read_orders(path: Path, rules: IdentityRules | None = None) -> History:
    rules = rules or IdentityRules()
    orders: _ByCustomer = defaultdict(dict)
    refunded: set[tuple[str, str]] = set()
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                _fold(json.loads(line), rules, orders, refunded)
            except (ValueError, InputError, ValidationError) as exc:
                raise InputError(f"{path}:{number}: {exc}") from exc
    return {
        cid: sorted((o for o in kept.values() if (cid, o.order_id) not in refunded), key=lambda o: o.time)
        for cid, kept in orders.items()
    }


_ByCustomer = dict[str, dict[str, Order]]


def _fold(raw: object, rules: IdentityRules, orders: _ByCustomer, refunded: set[tuple[str, str]]) -> None:
    if not isinstance(raw, dict):
        raise InputError("not a JSON object")
    event = parse_event(raw)
    if event.type not in ("order.paid", "order.refunded"):
        return
    found, _ = usable_identifiers(event.identity, rules)
    if not found:
        raise InputError("the order names no known identifier")
    customer = canonical_id(found[0])
    if event.type == "order.refunded":
        refunded.add((customer, OrderRefunded.model_validate(event.data).order_id))
        return
    paid = OrderPaid.model_validate(event.data)
    categories = tuple(sorted({i.category for i in paid.items if i.category}))
    orders[customer][paid.order_id] = Order(paid.order_id, event.time, paid.amount, categories)
