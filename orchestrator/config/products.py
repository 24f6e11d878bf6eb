"""The product catalog's relations (pairs_with, upgrade_of, consumable_of) name SKUs it has."""

from __future__ import annotations

from collections.abc import Iterator

from orchestrator.config.events import did_you_mean
from orchestrator.config.problems import Problem, dotted, problem
from orchestrator.config.yaml_loader import LoadedYaml, Path_
from orchestrator.core.products import ProductCatalog


def relation_problems(catalog: ProductCatalog, loaded: LoadedYaml) -> list[Problem]:
    found = []
    for where, sku, referenced in _references(catalog):
        if referenced == sku:
            message = f"{sku} cannot be related to itself"
        elif referenced not in catalog.products:
            message = f"no product {referenced!r} in the catalog{did_you_mean(referenced, catalog.products)}"
        else:
            continue
        found.append(problem(loaded.path, loaded.position_of(where), dotted(where), message))
    return found


def _references(catalog: ProductCatalog) -> Iterator[tuple[Path_, str, str]]:
    for sku, product in catalog.products.items():
        for index, other in enumerate(product.pairs_with):
            yield ("products", sku, "pairs_with", index), sku, other
        if product.upgrade_of is not None:
            yield ("products", sku, "upgrade_of"), sku, product.upgrade_of
        if product.consumable_of is not None:
            yield ("products", sku, "consumable_of"), sku, product.consumable_of
