"""The product catalog operators maintain in ``journeys/catalog.yaml``."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt, PositiveFloat


class Product(BaseModel):
    """How long one unit of a SKU lasts, and how early to act before it runs out.

    Without ``days_per_unit`` the category is still tracked, by the customer's own
    repurchase rhythm (``journeys/scenarios.yaml``: consumption_cycle_ending).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1)
    category: str = Field(min_length=1, pattern=r"^[a-z][a-z0-9_]*$")
    days_per_unit: PositiveFloat | None = Field(default=None, le=3650)
    lead_days: NonNegativeInt = 3
    # Relations for recommendations (templates: recommend(…)); each names other SKUs.
    pairs_with: tuple[str, ...] = Field(default=(), description="SKUs that go well with this one (both ways)")
    upgrade_of: str | None = Field(default=None, description="the SKU this one is the better version of")
    consumable_of: str | None = Field(default=None, description="the device SKU this one refills or feeds")
    tags: tuple[str, ...] = Field(default=(), description="profile tags this product suits (ranks it first)")


class ProductCatalog(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    products: dict[str, Product] = Field(default_factory=dict)
    # A cycle whose run-out passed longer ago than this is history, not a moment to act on.
    stale_after_days: NonNegativeInt = 7
