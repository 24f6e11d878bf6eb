"""recommend(): the catalog's relations and the customer's history and tags, deterministic."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from orchestrator.core import CustomerState, Product, ProductCatalog, World
from orchestrator.core.recommend import recommend
from orchestrator.core.state import Profile, Purchase
from orchestrator.templating import Templates
from tests.builders import CST, NOW, FakeConditions, journey, make_event, run

CATALOG = ProductCatalog(
    products={
        "OVEN": Product(name="蒸烤箱", category="oven", pairs_with=("TRAY",)),
        "OVEN-PRO": Product(name="蒸烤箱 Pro", category="oven", upgrade_of="OVEN", tags=("高端",)),
        "DESCALER": Product(name="除垢剂", category="care", consumable_of="OVEN", days_per_unit=90),
        "TRAY": Product(name="烤盘", category="accessory"),
        "BOOK": Product(name="蒸烤食谱", category="book", pairs_with=("OVEN",), tags=("烘焙",)),
        "PRO-900": Product(name="蛋白粉", category="protein", days_per_unit=30),
        "VITC-60": Product(name="维生素C", category="vitamin", pairs_with=("PRO-900",), tags=("健身",)),
    }
)


def _bought(*items: tuple[str, int], refunded: frozenset[str] = frozenset(), tags: tuple[str, ...] = ()) -> Profile:
    purchases = tuple(
        Purchase(
            order_id=f"O-{sku}",
            time=NOW - timedelta(days=days_ago),
            sku=sku,
            category=CATALOG.products[sku].category,
            qty=1,
            days=None,
            lead_days=None,
            product_name=CATALOG.products[sku].name,
            refunded=sku in refunded,
        )
        for sku, days_ago in items
    )
    return Profile(purchases=purchases, tags=tags)


def _skus(found: list[dict[str, object]]) -> list[tuple[object, object]]:
    return [(r["sku"], r["relation"]) for r in found]


def test_what_goes_with_an_oven_consumables_first_then_pairs_then_upgrades() -> None:
    profile = _bought(("OVEN", 10))
    assert _skus(recommend(profile, CATALOG, limit=5)) == [
        ("DESCALER", "consumable"),
        ("BOOK", "pairs_with"),  # BOOK names OVEN: a pair either side may declare
        ("TRAY", "pairs_with"),
        ("OVEN-PRO", "upgrade"),
    ]
    [first] = recommend(profile, CATALOG)
    assert first == {
        "sku": "DESCALER",
        "name": "除垢剂",
        "category": "care",
        "relation": "consumable",
        "because": "蒸烤箱",
    }


def test_the_customers_tags_rank_first_and_owned_products_are_left_out() -> None:
    profile = _bought(("OVEN", 10), ("TRAY", 5), tags=("高端",))
    assert _skus(recommend(profile, CATALOG, limit=5)) == [
        ("OVEN-PRO", "upgrade"),  # tagged 高端, like the customer
        ("DESCALER", "consumable"),
        ("BOOK", "pairs_with"),  # TRAY is owned
    ]


def test_a_consumable_already_bought_is_recommended_again() -> None:
    profile = _bought(("OVEN", 100), ("DESCALER", 10))
    assert _skus(recommend(profile, CATALOG, "consumable")) == [("DESCALER", "consumable")]


def test_the_most_recent_purchase_leads() -> None:
    profile = _bought(("OVEN", 60), ("PRO-900", 3))
    assert _skus(recommend(profile, CATALOG, "pairs_with", limit=3)) == [
        ("VITC-60", "pairs_with"),  # for the protein bought 3 days ago
        ("BOOK", "pairs_with"),
        ("TRAY", "pairs_with"),
    ]


def test_refunded_purchases_and_unknown_skus_lead_nowhere() -> None:
    assert recommend(_bought(("OVEN", 10), refunded=frozenset({"OVEN"})), CATALOG, limit=5) == []
    assert recommend(Profile(), CATALOG) == []


def test_the_same_history_in_any_order_gives_the_same_answer() -> None:
    items = [("OVEN", 30), ("PRO-900", 20), ("TRAY", 10), ("BOOK", 40)]
    expected = recommend(_bought(*items), CATALOG, limit=10)
    for seed in range(5):
        shuffled = items[:]
        random.Random(seed).shuffle(shuffled)
        assert recommend(_bought(*shuffled), CATALOG, limit=10) == expected


def test_bad_arguments_name_what_is_allowed() -> None:
    with pytest.raises(ValueError, match="unknown relation 'similar'; use one of any, consumable, pairs_with, upgrade"):
        recommend(Profile(), CATALOG, "similar")
    with pytest.raises(ValueError, match="limit 0 is outside 1-10"):
        recommend(Profile(), CATALOG, limit=0)


def test_a_template_recommends_from_what_the_customer_bought(tmp_path: Path) -> None:
    (tmp_path / "t.j2").write_text(
        "{% set picks = recommend('any', 2) %}"
        "{% if picks %}买了{{ picks[0].because }}的您，可以看看：{{ picks | map(attribute='name') | join('、') }}"
        "{% else %}欢迎回来{% endif %}",
        encoding="utf-8",
    )
    templates = Templates(tmp_path)
    templates.compile_template("t.j2")
    spec = journey(steps=[{"id": "hi", "send": {"channel": "wecom_private", "template": "t.j2"}}])
    spec = spec.model_copy(update={"trigger": journey(trigger={"event": "order.paid"}).trigger})
    world = World(journeys=(spec,), products=CATALOG, renderer=templates, conditions=FakeConditions())
    paid = make_event(
        "order.paid",
        datetime(2026, 11, 20, 10, 0, tzinfo=CST),
        {"order_id": "O1", "amount": 3999.0, "items": [{"sku": "OVEN", "qty": 1}]},
        wecom_external_id="wm1",
    )
    [outcome] = run(world, CustomerState.new("M1"), paid)
    [action] = outcome.actions
    assert action.content["text"] == "买了蒸烤箱的您，可以看看：除垢剂、蒸烤食谱"
