"""Recommendations from the catalog's relations and the customer's own history and tags.

Templates call ``recommend(relation='any', limit=1)``: for each SKU the customer bought
(most recent first, refunds left out), its consumables (refills, even if bought before),
the products it pairs with (either side may name the other) and its upgrades, minus what the
customer already owns. Ranked by how many of the product's ``tags`` the customer carries,
then by how recent the purchase that led to it, then by relation (consumable, pairs_with,
upgrade), then by SKU: the same profile and catalog always give the same answer.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from orchestrator.core.products import Product, ProductCatalog
from orchestrator.core.state import Profile

RELATIONS = ("consumable", "pairs_with", "upgrade")
MAX_LIMIT = 10


def recommend(profile: Profile, catalog: ProductCatalog, relation: str = "any", limit: int = 1) -> list[dict[str, Any]]:
    """Up to ``limit`` products, best first, as ``{sku, name, category, relation, because}``."""
    if relation != "any" and relation not in RELATIONS:
        raise ValueError(f"recommend: unknown relation {relation!r}; use one of any, {', '.join(RELATIONS)}")
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"recommend: limit {limit} is outside 1-{MAX_LIMIT}")
    history = _history(profile)
    owned = set(history)
    tags = set(profile.tags)
    best: dict[str, tuple[tuple[int, int, int, str], dict[str, Any]]] = {}
    for recency, bought in enumerate(history):
        for kind, sku in _related(catalog, bought):
            product = catalog.products.get(sku)
            if product is None or (relation not in ("any", kind)) or (kind != "consumable" and sku in owned):
                continue
            rank = (-len(tags & set(product.tags)), recency, RELATIONS.index(kind), sku)
            if sku not in best or rank < best[sku][0]:
                best[sku] = (rank, _view(sku, product, kind, catalog.products[bought].name))
    return [view for _, view in sorted(best.values(), key=lambda item: item[0])[:limit]]


def _history(profile: Profile) -> list[str]:
    """SKUs bought, most recent first, each once."""
    seen: list[str] = []
    for purchase in sorted(profile.purchases, key=lambda p: (p.time, p.sku), reverse=True):
        if not purchase.refunded and purchase.sku not in seen:
            seen.append(purchase.sku)
    return seen


def _related(catalog: ProductCatalog, bought: str) -> Iterator[tuple[str, str]]:
    source = catalog.products.get(bought)
    if source is None:
        return
    for sku, product in sorted(catalog.products.items()):
        if product.consumable_of == bought:
            yield "consumable", sku
        if sku in source.pairs_with or bought in product.pairs_with:
            yield "pairs_with", sku
        if product.upgrade_of == bought:
            yield "upgrade", sku


def _view(sku: str, product: Product, relation: str, because: str) -> dict[str, Any]:
    return {"sku": sku, "name": product.name, "category": product.category, "relation": relation, "because": because}
