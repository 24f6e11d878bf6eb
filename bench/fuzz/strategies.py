"""What the fuzz campaign throws: hypothesis strategies of hostile items.

An item is one customer's records (keyed by its own key, which also becomes its member id)
and what must come of them:

- ``dead``: its last record is bad and must reach the DLQ with a reason (malformed JSON and
  envelopes, poison numbers, huge identifiers and records, deep or oversized data, a seen
  event id with other content);
- ``act``: a valid customer, however odd (a template-injection name with control
  characters, unknown fields and types): its first message must arrive, with the name as
  literal text;
- ``quiet``: a valid customer that floods its own state (new attributes, consent channels,
  survey touchpoints, refunds of unknown orders): nothing may be dead-lettered, and its
  stored state must stay within the budget.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from hypothesis import strategies as st

MEMBER = "__MEMBER__"  # replaced by the item's key when it is produced
NOW = datetime.now(tz=UTC)
RECORD_LIMIT = 64 * 1024
INJECTIONS = [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ lipsum.__globals__['os'].popen('id').read() }}",
    "{% for x in range(99999999) %}x{% endfor %}",
    "{{ 9 ** 9 ** 9 }}",
    "\u202egnp.exe",
    "王女士\x00\x1b[31m红\x1b[0m",
    "'); DROP TABLE customers;--",
]


@dataclass(frozen=True)
class Item:
    what: str
    records: tuple[bytes | None, ...]
    expect: str  # dead, act, quiet
    name: str | None = None
    broken_state: bool = False  # store an unloadable state for the customer first: it is quarantined


def envelope(type_: str = "x_fuzz.ping", **fields: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "id": f"e-{uuid.uuid4().hex[:12]}",
        "type": type_,
        "time": (NOW - timedelta(days=1)).isoformat(),
        "identity": {"member_id": MEMBER},
        "data": {},
    }
    event.update(fields)
    return event


def _dead(what: str, *values: bytes | dict[str, Any] | None) -> Item:
    records = tuple(orjson.dumps(v) if isinstance(v, dict) else v for v in values)
    return Item(what, records, "dead")


def _order(amount: float = 10.0, **item: Any) -> dict[str, Any]:
    return {"order_id": "O1", "amount": amount, "items": [{"sku": "PRO-900", "qty": 1, **item}]}


poison_data = st.sampled_from(
    [
        ("order.paid", _order(1e308)),
        ("order.paid", _order(price=1e300)),
        ("order.paid", _order(qty=1e6)),
        ("order.paid", {"order_id": "O1", "items": [{"sku": "S"}] * 201}),
        ("order.paid", {"order_id": "o" * 5000}),
        ("service.completed", {"mileage": 1e200}),
        ("survey.answered", {"metric": "nps", "score": -1e300}),
        ("customer.registered", {"attributes": {f"a{n}": n for n in range(65)}}),
        ("customer.registered", {"attributes": {"big": "x" * 2000}}),
        ("customer.registered", {"tz": "../../etc/passwd"}),
        ("consent.changed", {"channel": "c" * 41, "granted": True}),
    ]
).map(lambda t: _dead(f"{t[0]} with {str(t[1])[:60]}", envelope(t[0], data=t[1])))
malformed = st.one_of(
    st.binary(max_size=64).map(lambda raw: _dead("random bytes", b"\xff" + raw)),
    st.sampled_from([None, b"", b"[]", b"null", b'{"id": 1}', b"{" * 2000]).map(lambda v: _dead(f"{v!r:.30}", v)),
    st.sampled_from(["id", "type", "time", "identity"]).map(
        lambda k: _dead(f"no {k}", {f: v for f, v in envelope().items() if f != k})
    ),
    st.sampled_from(["9999-01-01T00:00:00Z", "2026-01-01T00:00:00", "tomorrow"]).map(
        lambda t: _dead(f"time {t}", envelope(time=t))
    ),
)
huge = st.one_of(
    st.integers(201, 40_000).map(
        lambda n: _dead(f"identifier of {n}", envelope(identity={"member_id": MEMBER, "wecom_external_id": "w" * n}))
    ),
    st.integers(RECORD_LIMIT + 1, 1_040_000).map(
        lambda n: _dead(f"record of {n} bytes", orjson.dumps(envelope(data={"b": "x" * n})))
    ),
    st.integers(33, 300).map(
        lambda d: _dead(
            f"data {d} deep",
            orjson.dumps(envelope(data={"n": "@"})).replace(b'"@"', b'{"a":' * d + b"1" + b"}" * d),
        )
    ),
)


@st.composite
def conflicting(draw: st.DrawFn) -> Item:
    """One event, then the same id with other content: the second is a conflicting duplicate."""
    first = envelope("x_fuzz.note", data={"v": draw(st.integers(0, 100))})
    second = {**first, "data": {"v": draw(st.integers(101, 200))}}
    return Item("conflicting duplicate", (orjson.dumps(first), orjson.dumps(second)), "dead")


@st.composite
def acting(draw: st.DrawFn) -> Item:
    name = draw(st.one_of(st.sampled_from(INJECTIONS), st.text(max_size=100)))
    unknown = draw(st.dictionaries(st.from_regex(r"x_[a-z]{1,6}", fullmatch=True), st.text(max_size=20), max_size=3))
    identity = {"member_id": MEMBER, "wecom_external_id": f"wm-{MEMBER}"}
    registered = envelope(
        "customer.registered", time=(NOW - timedelta(days=40)).isoformat(), identity=identity, data={"name": name}
    )
    extra_type = draw(st.from_regex(r"x_[a-z]{1,8}\.[a-z]{1,8}", fullmatch=True))
    extra = envelope(extra_type, data={"blob": "b" * draw(st.integers(0, 20_000)), **unknown})
    order = envelope("order.paid", time=(NOW - timedelta(days=27)).isoformat(), data=_order(199.0))
    records = tuple(orjson.dumps(e) for e in (registered, extra, order))
    return Item(f"customer named {name!r:.40}", records, "act", name)


@st.composite
def flooding(draw: st.DrawFn) -> Item:
    count = draw(st.integers(20, 60))
    events = []
    for n in range(count):
        kind = n % 4
        if kind == 0:
            data = {"attributes": {f"k{n}-{i}": "v" * 900 for i in range(64)}}
            events.append(envelope("profile.updated", data=data))
        elif kind == 1:
            events.append(envelope("consent.changed", data={"channel": f"ch{n}", "granted": n % 3 == 0}))
        elif kind == 2:
            events.append(envelope("survey.answered", data={"metric": "nps", "score": 7, "touchpoint": f"t{n}"}))
        else:
            events.append(envelope("order.refunded", data={"order_id": f"{n:04d}" + "r" * 196}))
    return Item(f"a flood of {count} state-growing events", tuple(orjson.dumps(e) for e in events), "quiet")


quarantined = st.just(
    Item("a customer whose stored state does not load", (orjson.dumps(envelope()),), "dead", broken_state=True)
)
bad = st.one_of(poison_data, malformed, huge, conflicting(), quarantined)
items = st.integers(0, 5).flatmap(lambda n: acting() if n < 2 else flooding() if n == 2 else bad)
