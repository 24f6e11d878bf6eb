"""One customer under 10,000 hostile but valid events stays within the state budget.

Every event is as large as the door lets it be and each one tries to grow a different part
of the state: new attributes of 1 KB, new consent channels, new survey touchpoints, refunds
of unknown 200-character order ids, orders of 200 lines, long identifiers, long chat lines,
unknown types. The limits (``core.limits``) hold what accumulates; the serialized state
stays under ``STATE_BUDGET_BYTES`` (the README states it beside the typical 2.35 KB).
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import orjson

from orchestrator.bootstrap import load_world
from orchestrator.core import CustomerState, World, process
from orchestrator.core.limits import MAX_ATTRIBUTES, MAX_CONSENT_CHANNELS, MAX_TOUCHPOINTS, bound_profile
from orchestrator.core.migrations import dump_state
from orchestrator.core.state import Profile
from orchestrator.service import codec
from orchestrator.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
START = datetime(2026, 1, 1, tzinfo=UTC)
STATE_BUDGET_BYTES = 256 * 1024
EVENTS = 10_000


@cache
def world() -> World:
    return load_world(Settings(xo_journeys_dir=ROOT / "journeys", xo_templates_dir=ROOT / "templates"))[1]


def _hostile(n: int) -> dict[str, Any]:
    """The n-th event: each kind is as large as the door allows and new every time."""
    long = f"{n:08d}" + "x" * 192  # 200 characters, unique
    kinds: list[tuple[str, dict[str, Any]]] = [
        ("profile.updated", {"attributes": {f"a{n}-{k}": "v" * 960 for k in range(64)}}),
        ("consent.changed", {"channel": f"ch{n}", "granted": n % 3 == 0}),
        ("survey.answered", {"metric": "nps", "score": 9, "touchpoint": f"tp{n}-" + "t" * 90, "answer": "担心闲置"}),
        ("order.refunded", {"order_id": long}),
        (
            "order.paid",
            {
                "order_id": long,
                "amount": 1e9,
                "items": [{"sku": f"S{k}" if k else "PRO-900", "qty": 1e5, "category": f"c{k}"} for k in range(200)],
            },
        ),
        # Chat text is not kept in the state; a short line keeps the test quick (intent matching
        # of a 4,000-character line is a cost of its own, not a state size).
        ("chat.message", {"text": "快吃完了，" + "好" * 200}),
        (f"x_upstream.kind{n}", {"blob": "b" * 30_000}),
        ("service.completed", {"brand": "b" * 100, "model": long[:100], "mileage": 1e7}),
    ]
    type_, data = kinds[n % len(kinds)]
    identity = {"member_id": "M1", "phone": long, "wecom_external_id": long, "unionid": long, "email": long}
    return {
        "id": long,
        "type": type_,
        "time": (START + timedelta(minutes=7 * n)).isoformat(),
        "identity": identity,
        "data": data,
    }


def test_ten_thousand_hostile_events_leave_one_customer_within_the_budget() -> None:
    state = CustomerState.new("M1")
    limited: Counter[str] = Counter()
    largest = 0
    now = START + timedelta(minutes=7 * EVENTS)
    for n in range(EVENTS):
        raw = orjson.dumps(_hostile(n))
        assert len(raw) <= codec.MAX_RECORD_BYTES
        _, event = codec.decode_input(raw)  # every one of them is valid at the door
        outcome = process(state, event, now, world())
        state = outcome.state
        limited.update(outcome.limited)
        if n % 97 == 0 or n > EVENTS - 10:
            largest = max(largest, len(dump_state(state)))
    size = len(dump_state(state))
    assert max(largest, size) < STATE_BUDGET_BYTES, (largest, size)
    profile = state.profile
    assert len(profile.attributes) == MAX_ATTRIBUTES
    assert len(profile.consent) == MAX_CONSENT_CHANNELS
    assert len(profile.experience) <= MAX_TOUCHPOINTS
    assert set(limited) >= {"attributes", "consent", "experience"}
    print(f"state after {EVENTS} hostile events: {size} bytes (largest seen {largest}); limits hit: {dict(limited)}")


def test_a_consent_revocation_is_never_evicted_by_new_channels() -> None:
    consent = {"sms": False, **{f"junk{n}": True for n in range(40)}}
    profile, limited = bound_profile(Profile(consent=consent))
    assert limited == ("consent",)
    assert profile.consent["sms"] is False
    assert len(profile.consent) == MAX_CONSENT_CHANNELS
    many = {f"no{n}": False for n in range(40)}
    profile, _ = bound_profile(Profile(consent=many))
    assert list(profile.consent) == [f"no{n}" for n in range(40 - MAX_CONSENT_CHANNELS, 40)]  # the newest
