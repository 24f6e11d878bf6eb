"""A simulated population whose true arm sizes and conversions are known in advance.

Each customer chats once (the trigger), is split A 40 / B 40 / holdout 20 by the engine's
own hash, and orders within the goal window when the plan for their arm says so. The
truth is worked out here from ``assign_variant`` and the plan, independently of the log.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import orjson

from orchestrator.core import World
from orchestrator.core.steps import assign_variant
from orchestrator.service.simulate import Simulation, simulate
from tests.builders import journey, make_world

CST = timezone(timedelta(hours=8))
START = datetime(2026, 11, 2, 10, 0, tzinfo=CST)
WEIGHTS = {"A": 40, "B": 40, "holdout": 20}
CONVERTS_EVERY = {"A": 4, "B": 2, "holdout": 5}  # the n-th customer of an arm converts when n % k == 0
ARMS = {"A": {"weight": 40, "next": "a"}, "B": {"weight": 40, "next": "b"}, "holdout": {"weight": 20}}
SPLIT = {"id": "offer", "split": ARMS}
STEPS = [
    {"id": "hello", "send": {"channel": "wecom_private", "template": "hello.j2"}},
    SPLIT,
    {"id": "a", "send": {"channel": "wecom_private", "template": "a.j2"}, "next": "done"},
    {"id": "b", "send": {"channel": "wecom_private", "template": "b.j2"}, "next": "done"},
    {"id": "done", "update": {"add_tags": ["offer-tested"]}},
]


@dataclass(frozen=True)
class Truth:
    customers: Counter[str]
    conversions: Counter[str]


def world() -> World:
    spec = journey(
        id="offer-test",
        trigger={"event": "chat.message"},
        steps=STEPS,
        goal={"event": "order.paid", "within": "7d"},
        entry={"reentry": "never"},
    )
    return make_world(spec)


def population(size: int) -> tuple[list[bytes], Truth]:
    lines: list[bytes] = []
    customers: Counter[str] = Counter()
    conversions: Counter[str] = Counter()
    for n in range(size):
        cid = f"P{n:05d}"
        arm = assign_variant("offer-test", "offer", cid, WEIGHTS)
        customers[arm] += 1
        identity = {"member_id": cid, "wecom_external_id": f"wm-{cid}"}
        at = START + timedelta(minutes=n)
        lines.append(_event(f"chat-{cid}", "chat.message", at, identity, {"text": "在吗"}))
        if customers[arm] % CONVERTS_EVERY[arm] == 0:
            conversions[arm] += 1
            order = {"order_id": f"O-{cid}", "amount": 99.0}
            lines.append(_event(f"pay-{cid}", "order.paid", at + timedelta(days=2), identity, order))
    return lines, Truth(customers, conversions)


def run(size: int) -> tuple[Simulation, Truth]:
    lines, truth = population(size)
    return simulate(world(), lines, until=START + timedelta(days=30)), truth


def _event(id_: str, type_: str, at: datetime, identity: dict[str, str], data: dict[str, object]) -> bytes:
    return orjson.dumps({"id": id_, "type": type_, "time": at.isoformat(), "identity": identity, "data": data})
