"""Conditions compiled to closures do what Jinja's own compiled expressions do: the same value,
the same error (type and message), the same operations charged to the budget, the same refusals.

Every condition below runs twice, through ``Templates`` with compiled conditions and through
``Templates(compiled_conditions=False)`` (Jinja's ``compile_expression``, the reference).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from orchestrator.config.catalog import load_config
from orchestrator.errors import StepError
from orchestrator.templating import Templates

REPO = Path(__file__).resolve().parents[2]


def _scope() -> dict[str, Any]:
    profile = {
        "name": "王女士",
        "lifecycle": "loyal",
        "tags": ["vip", "complained_30d"],
        "orders": 3,
        "spent": 5200.0,
        "attributes": {"fruit_club": True, "car_model": "", "do_not_disturb": False, "nested": {"a": [1, 2, 3]}},
        "consent": {"sms": True, "wecom_private": False},
        "identity": {"wecom_external_id": "wm1", "phone": "+86139"},
        "value_tier": "金",
        "days_since_last_order": 12,
        "last_order_at": None,
    }
    event = {"type": "order.paid", "data": {"order_amount": 120, "pool": "FRUIT_TUE", "items": [{"sku": "A"}]}}
    return {
        "profile": profile,
        "event": event,
        "trigger": {"data": {"complaint_id": "C1", "severity": "high", "kind": "exchange"}},
        "scenario": {"name": "x", "to": "loyal", "amount": None, "source": "chat", "tag": "担心闲置"},
        "journey": {"id": "j", "version": 1, "variant": "A"},
        "customer_id": "M1",
        "now": "2026-11-20T10:00:00+08:00",
        "recommend": lambda relation="any", limit=3: [{"sku": "A", "relation": relation}][:limit],
    }


OWN = [
    # what operators write
    "profile.lifecycle in ['new', 'loyal'] and not ('complained_30d' in profile.tags)",
    "profile.attributes.get('fruit_club', false)",
    "not profile.attributes.get('do_not_disturb', false)",
    "(scenario.amount or 0) >= 10000",
    "profile.spent >= 5000 and profile.orders > 0",
    "event.data.get('order_amount', 0) >= 99",
    "profile['consent']['sms'] and profile.consent.wecom_private",
    "1 < profile.orders < 5 < 4",
    "profile.orders + 1 == 4 and profile.orders * 2 == 6 and profile.orders ** 2 == 9",
    "profile.orders - 1 == 2 and profile.orders / 2 == 1.5 and profile.orders // 2 == 1 and profile.orders % 2 == 1",
    "-profile.orders < 0 and +profile.orders > 0",
    "profile.tags | length > 1 and profile.tags | first == 'vip'",
    "profile.name ~ '!' == '王女士!'",
    "profile.tags | select('equalto', 'vip') | list | length == 1",
    "profile.tags | map('upper') | join(',') == 'VIP,COMPLAINED_30D'",
    "profile.attributes.nested.a[1:] == [2, 3] and profile.attributes.nested.a[::-1][0] == 3",
    "profile.missing is defined or profile.name is string",
    "profile.orders is divisibleby 3 and profile.value_tier is in ['金', '钻']",
    "{'a': profile.orders}['a'] == 3 and (1, 2)[0] == 1",
    "'yes' if profile.orders > 2 else 'no'",
    "recommend('any', limit=1) | length == 1 and recommend()[0].sku == 'A'",
    "profile.attributes.keys() | list | length == 4 and profile.attributes.items() | list | length == 4",
    "profile.attributes.values() | list | length == 4",
    "range(3) | list == [0, 1, 2] and dict(a=1).a == 1",
    "profile.name.upper() == '王女士' and profile.name.startswith('王')",
    "profile.days_since_last_order > 7 and profile.last_order_at is none",
    "customer_id == 'M1' and now > '2026' and journey.variant == 'A'",
    "profile.tags | sort | first == 'complained_30d'",
    "(profile.tags + ['x']) | length == 3 and [1] * 3 == [1, 1, 1]",
    "profile.name | default('您好') != '' and profile.nothing | default('-') == '-'",
    # what fails
    "profile.nickname > 1",
    "nobody.name == 'x'",
    "len(profile.tags) > 0",
    "profile.orders / 0 > 1",
    "profile.name > 3",
    "profile.attributes.update({'x': 1})",
    "profile.tags.append(1)",
    "profile.attributes.pop('fruit_club')",
    "profile.attributes.clear()",
    "profile.name.__class__.__mro__",
    "''.__class__.__mro__[1].__subclasses__()",
    "recommend.__globals__",
    "profile.attributes.get.__self__",
    "profile.attributes.__class__",
    "profile._private",
    "'{0.__class__}'.format(profile.name)",
    "range(10 ** 9) | list | length > 0",
    "'a' * 100000",
    "2 ** 100000 > 1",
    "range(100000)|list|length + range(100000)|list|length > 0",
    "profile.name.center(1000000)",
    "profile.attributes.nested.a.index(7)",
    "cycler(1, 2).next() == 1 and namespace(a=1).a == 1",
]


def _shipped() -> list[str]:
    config = load_config(REPO / "journeys", REPO / "templates")
    found = set()
    for journey in config.world().journeys:
        text = journey.model_dump_json()
        found.update(re.findall(r'"(?:when|condition|segment)":"((?:[^"\\]|\\.)*)"', text))
    return sorted(found)


def _run(templates: Templates, expression: str, scope: dict[str, Any]) -> tuple[str, Any, int]:
    templates.compile_condition(expression)
    try:
        outcome: tuple[str, Any] = ("value", templates.evaluate(expression, scope))
    except StepError as exc:
        outcome = ("error", str(exc))
    return (*outcome, templates.last_operations)


@pytest.mark.parametrize("expression", OWN)
def test_a_compiled_condition_does_what_jinja_does(tmp_path: Path, expression: str) -> None:
    compiled, reference = Templates(tmp_path), Templates(tmp_path, compiled_conditions=False)
    assert _run(compiled, expression, _scope()) == _run(reference, expression, _scope())


def test_every_shipped_condition_does_what_jinja_does(tmp_path: Path) -> None:
    shipped = _shipped()
    assert len(shipped) > 10
    compiled, reference = Templates(tmp_path), Templates(tmp_path, compiled_conditions=False)
    for expression in shipped:
        for scope in (_scope(), {**_scope(), "profile": {}, "event": {"data": {}}, "scenario": {}}):
            assert _run(compiled, expression, scope) == _run(reference, expression, scope), expression


def test_the_refusals_are_refusals(tmp_path: Path) -> None:
    templates = Templates(tmp_path)
    for expression in ("profile.attributes.update({'x': 1})", "profile.name.__class__.__mro__", "profile._private"):
        kind, message, _ = _run(templates, expression, _scope())
        assert kind == "error"
        assert "unsafe" in message or "SecurityError" in message or "UndefinedError" in message
    assert _scope()["profile"]["attributes"].get("x") is None


def test_a_compiled_condition_runs_out_of_budget_where_jinja_does(tmp_path: Path) -> None:
    kind, message, operations = _run(
        Templates(tmp_path), "range(100000)|list|length + range(100000)|list|length > 0", {}
    )
    assert kind == "error"
    assert "more than 100000 operations" in message
    assert operations > 100_000
