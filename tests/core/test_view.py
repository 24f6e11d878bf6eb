"""The lazy profile view is the profile's JSON dump plus derived figures, whichever way it is read."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from orchestrator.core.runtime import Effects
from orchestrator.core.state import OrderRecord, Profile, Purchase
from orchestrator.core.view import LAZY, LazyDict, plain
from orchestrator.errors import StepError
from orchestrator.templating import Templates

NOW = datetime(2026, 11, 20, 10, tzinfo=UTC)


def _profile() -> Profile:
    at = NOW - timedelta(days=30)
    purchases = tuple(
        Purchase(
            order_id=f"O{i}",
            time=at,
            sku="PRO-900",
            category="protein",
            qty=1,
            days=30,
            lead_days=7,
            product_name="蛋白粉",
        )
        for i in range(5)
    )
    orders = tuple(OrderRecord(order_id=f"O{i}", time=at, amount=199.0, categories=("protein",)) for i in range(5))
    return Profile(
        name="王女士",
        purchases=purchases,
        order_log=orders,
        orders=5,
        last_order_at=at,
        first_seen_at=at - timedelta(days=9),
    )


def _expected(profile: Profile) -> dict[str, object]:
    full = plain(profile)
    return {**full, "days_since_last_order": 30, "days_since_first_seen": 39}


def test_the_view_reads_as_the_full_dump_in_the_same_order() -> None:
    profile = _profile()
    view = Effects().profile_view(profile, NOW)
    expected = _expected(profile)
    assert isinstance(view, LazyDict)
    assert len(view) == len(expected)
    assert all(key in view for key in expected)
    assert view["purchases"] == expected["purchases"]  # read alone, before the rest
    assert list(view) == list(expected)
    assert view == expected
    assert json.dumps(view) == json.dumps(expected)
    assert list(view.items()) == list(expected.items())


@pytest.mark.parametrize("read", ["len", "get", "items", "values", "copy", "json", "in"])
def test_every_way_of_reading_it_sees_every_field(read: str) -> None:
    profile = _profile()
    view = Effects().profile_view(profile, NOW)
    expected = _expected(profile)
    results = {
        "len": lambda: len(view) == len(expected),
        "get": lambda: view.get("order_log") == expected["order_log"] and view.get("nothing", 1) == 1,
        "items": lambda: dict(view.items()) == expected,
        "values": lambda: list(view.values()) == list(expected.values()),
        "copy": lambda: view.copy() == expected and dict(view) == expected and {**view} == expected,
        "json": lambda: json.loads(json.dumps(view)) == expected,
        "in": lambda: all(name in view for name in LAZY) and "nothing" not in view,
    }
    assert results[read]()


def test_the_histories_are_not_dumped_until_read() -> None:
    view = Effects().profile_view(_profile(), NOW)
    assert not any(dict.__contains__(view, name) for name in LAZY)
    assert view["name"] == "王女士"
    assert not dict.__contains__(view, "purchases")


def test_templates_see_it_as_a_dict_even_in_their_errors(tmp_path: Path) -> None:
    (tmp_path / "t.j2").write_text("{{ profile.nickname }}", encoding="utf-8")
    (tmp_path / "ok.j2").write_text(
        "{{ profile.name }} {{ profile.purchases | length }} {{ profile | length }}", "utf-8"
    )
    templates = Templates(tmp_path)
    templates.compile_template("t.j2")
    templates.compile_template("ok.j2")
    profile = _profile()
    messages = []
    for view in (Effects().profile_view(profile, NOW), _expected(profile)):
        assert templates.render("ok.j2", {"profile": view}) == f"王女士 5 {len(_expected(profile))}"
        with pytest.raises(StepError) as caught:
            templates.render("t.j2", {"profile": view})
        messages.append(str(caught.value))
    assert messages[0] == messages[1]
    assert "'dict object' has no attribute 'nickname'" in messages[0]


def test_its_own_machinery_is_out_of_reach(tmp_path: Path) -> None:
    templates = Templates(tmp_path)
    profile = _profile()
    outcomes = []
    for view in (Effects().profile_view(profile, NOW), _expected(profile)):
        for expression in ("profile._pending", "profile._load('name')", "profile.update({})", "profile.get('name')"):
            templates.compile_condition(expression)
            try:
                outcomes.append(("value", templates.evaluate(expression, {"profile": view})))
            except StepError as exc:
                outcomes.append(("error", str(exc)))
    assert outcomes[:4] == outcomes[4:]
    assert [kind for kind, _ in outcomes[:4]] == ["error", "error", "error", "value"]
