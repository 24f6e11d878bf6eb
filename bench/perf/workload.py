"""The benchmark's events: a realistic mix of registrations, orders, chat lines and receipts.

Backlog (the throughput run): every customer registers (WeCom id, phone, name) 40-60 days
ago; 35 % bought one consumable 27 days ago (their cycle timer is due as soon as the order
is processed, so a timer fires and the replenish journey sends at once), 45 % bought
recently (a timer in the future: an index entry, no send), 6 % spent over 1000 (the VIP
segment); the rest of the budget is chat lines (15 % of them ask about the product, which
the chat_reply journey answers at once) and message receipts (half of them "read", which
moves the welcome journey on). Each customer's events are in event-time order; customers
are interleaved at random, as on a real topic.

Stream (the latency run): events of existing customers, timed now, at a steady rate:
chat lines (30 % asking, each one a probe: the reply quotes the event id), receipts, recent
orders and a few new registrations.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import orjson

SKUS = ("PRO-900", "PRO-450", "VITC-60", "FISH-90")
PRICES = {"PRO-900": 199.0, "PRO-450": 119.0, "VITC-60": 89.0, "FISH-90": 168.0}
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"
ASKING = ("蛋白粉快吃完了，还有货吗", "同事问这是什么牌子", "鱼油用完了，能再寄一瓶吗", "上次那个快吃完啦")
CHATTING = ("收到了，谢谢", "好的", "今天几点发货？", "包装很好", "[图片]", "嗯嗯", "有优惠吗", "地址改一下")
KEYWORDS = ("快吃完", "什么牌子", "用完了")
PROBE_MARK = "（工单 "  # the chat templates quote the event id after this


@dataclass(frozen=True)
class Mix:
    """Shares of the backlog beyond each customer's registration."""

    old_order: float = 0.35  # per customer: an order 27 days ago (cycle timer due now)
    recent_order: float = 0.45  # per customer: an order 1-10 days ago (timer in the future)
    big_spender: float = 0.06  # per customer: a second, large order (VIP segment)
    chat_share: float = 0.65  # of the remaining events: chat lines; the rest are receipts
    asking: float = 0.15  # of chat lines: ones the chat_reply journey answers


@dataclass
class Backlog:
    records: list[tuple[str, bytes]]  # (customer id, JSON event) in production order
    types: Counter[str] = field(default_factory=Counter)
    due_orders: int = 0  # customers whose cycle timer is due when their order is processed


def cid_of(index: int) -> str:
    return f"B{index:07d}"


def event(id_: str, cid: str, type_: str, at: datetime, data: dict[str, object], **identity: str) -> bytes:
    return orjson.dumps(
        {
            "id": id_,
            "type": type_,
            "time": at.isoformat(),
            "source": "bench",
            "identity": {"member_id": cid, **identity},
            "data": data,
        }
    )


def registered(cid: str, index: int, at: datetime) -> bytes:
    identity = {"wecom_external_id": f"wm-{cid}", "phone": f"+86139{index:08d}"}
    name = f"{SURNAMES[index % len(SURNAMES)]}{'女士' if index % 2 else '先生'}"
    return event(f"{cid}-reg", cid, "customer.registered", at, {"name": name}, **identity)


def order(id_: str, cid: str, at: datetime, rng: random.Random, big: bool = False) -> bytes:
    sku = rng.choice(SKUS)
    qty = 6 if big else rng.choice((1, 1, 1, 2))
    items = [{"sku": sku, "qty": qty, "price": PRICES[sku]}]
    amount = round(PRICES[sku] * qty, 2)
    return event(id_, cid, "order.paid", at, {"order_id": f"O-{id_}", "amount": amount, "items": items})


def chat(id_: str, cid: str, at: datetime, asking: bool, rng: random.Random) -> bytes:
    text = rng.choice(ASKING if asking else CHATTING)
    return event(id_, cid, "chat.message", at, {"text": text, "from": "customer"}, wecom_external_id=f"wm-{cid}")


def receipt(id_: str, cid: str, at: datetime, rng: random.Random) -> bytes:
    status = "read" if rng.random() < 0.5 else "delivered"
    return event(id_, cid, "message.receipt", at, {"status": status, "channel": "wecom_private"})


def backlog(customers: int, events: int, now: datetime, seed: int = 1, mix: Mix | None = None) -> Backlog:
    """``events`` records for ``customers`` customers (at least one event each: the registration)."""
    mix = mix or Mix()
    if customers < 1 or events < customers:
        raise ValueError("need at least one customer and one event per customer")
    rng = random.Random(seed)
    timelines: list[list[tuple[datetime, bytes]]] = []
    types: Counter[str] = Counter()
    due = 0
    budget = events - customers
    for index in range(customers):
        cid = cid_of(index)
        joined = now - timedelta(days=rng.uniform(40, 60))
        timeline = [(joined, registered(cid, index, joined))]
        types["customer.registered"] += 1
        roll = rng.random()
        if budget and roll < mix.old_order:
            at = now - timedelta(days=27, hours=rng.uniform(0, 12))
            timeline.append((at, order(f"{cid}-o1", cid, at, rng)))
            due += 1
        elif budget and roll < mix.old_order + mix.recent_order:
            at = now - timedelta(days=rng.uniform(1, 10))
            timeline.append((at, order(f"{cid}-o1", cid, at, rng)))
        if budget and rng.random() < mix.big_spender:
            at = now - timedelta(days=rng.uniform(0.1, 1))
            timeline.append((at, order(f"{cid}-o2", cid, at, rng, big=True)))
        budget -= len(timeline) - 1
        types["order.paid"] += len(timeline) - 1
        timelines.append(timeline)
    for n in range(max(budget, 0)):
        index = rng.randrange(customers)
        cid = cid_of(index)
        at = now - timedelta(seconds=rng.uniform(60, 30 * 86400))
        if rng.random() < mix.chat_share:
            record = chat(f"{cid}-c{n}", cid, at, rng.random() < mix.asking, rng)
            types["chat.message"] += 1
        else:
            record = receipt(f"{cid}-r{n}", cid, at, rng)
            types["message.receipt"] += 1
        timelines[index].append((at, record))
    placed: list[tuple[float, str, bytes]] = []
    for index, timeline in enumerate(timelines):
        timeline.sort(key=lambda item: item[0])
        cid = cid_of(index)
        positions = sorted(rng.random() for _ in timeline)  # a random interleaving that keeps the order
        placed.extend((position, cid, value) for position, (_, value) in zip(positions, timeline, strict=True))
    placed.sort(key=lambda item: item[0])
    return Backlog([(cid, value) for _, cid, value in placed], types, due)


def stream(customers: int, seed: int = 2) -> Iterator[tuple[str, bytes, str | None]]:
    """Endless live events of the backlog's customers (and new ones), each timed when it is made.

    Yields (customer id, JSON event, probe id): the probe id is the event id when the chat
    reply journey will answer it at once, else None.
    """
    rng = random.Random(seed)
    n = 0
    newcomer = customers
    while True:
        n += 1
        now = datetime.now(tz=UTC)
        roll = rng.random()
        index = rng.randrange(customers)
        cid = cid_of(index)
        if roll < 0.50:
            asking = rng.random() < 0.30
            id_ = f"{cid}-live{n}"
            yield cid, chat(id_, cid, now, asking, rng), id_ if asking else None
        elif roll < 0.75:
            yield cid, receipt(f"{cid}-live{n}", cid, now, rng), None
        elif roll < 0.90:
            yield cid, order(f"{cid}-live{n}", cid, now, rng), None
        else:
            cid = cid_of(newcomer)
            yield cid, registered(cid, newcomer, now), None
            newcomer += 1
