"""fold(profile, event) → profile: what the engine knows about a customer."""

from __future__ import annotations

from collections.abc import Callable

from orchestrator.core.event_data import (
    ConsentChanged,
    CustomerRegistered,
    OrderPaid,
    OrderRefunded,
    ServiceCompleted,
)
from orchestrator.core.events import IDENTITY_KEYS, Event
from orchestrator.core.products import ProductCatalog
from orchestrator.core.state import PURCHASE_WINDOW, Profile, Purchase

Fold = Callable[[Profile, Event, ProductCatalog], Profile]


def fold(profile: Profile, event: Event, products: ProductCatalog) -> Profile:
    """Merge identifiers and times, then apply the fold for the event's type (if any)."""
    identity = {**profile.identity, **{k: v for k, v in event.identity.items() if k in IDENTITY_KEYS and v}}
    first = profile.first_seen_at
    last = profile.last_event_at
    profile = profile.model_copy(
        update={
            "identity": identity,
            "first_seen_at": event.time if first is None or event.time < first else first,
            "last_event_at": event.time if last is None or event.time > last else last,
        }
    )
    apply = _FOLDS.get(event.type)
    return apply(profile, event, products) if apply else profile


def _registered(profile: Profile, event: Event, _: ProductCatalog) -> Profile:
    data = CustomerRegistered.model_validate(event.data)
    return profile.model_copy(
        update={
            "name": data.name or profile.name,
            "tz": data.tz or profile.tz,
            "attributes": {**profile.attributes, **data.attributes},
        }
    )


def _order_paid(profile: Profile, event: Event, products: ProductCatalog) -> Profile:
    data = OrderPaid.model_validate(event.data)
    if any(p.order_id == data.order_id for p in profile.purchases):
        return profile  # the same order reported twice
    lines = []
    for item in data.items:
        product = products.products.get(item.sku)
        if product is None:
            continue  # not a consumable the catalog tracks
        lines.append(
            Purchase(
                order_id=data.order_id,
                time=event.time,
                sku=item.sku,
                category=product.category,
                qty=item.qty,
                days=item.qty * product.days_per_unit,
                lead_days=product.lead_days,
                product_name=product.name,
                refunded=data.order_id in profile.refunded_orders,
            )
        )
    last = profile.last_order_at
    purchases = sorted((*profile.purchases, *lines), key=lambda p: p.time)[-PURCHASE_WINDOW:]
    orders = profile.orders + 1
    return profile.model_copy(
        update={
            "orders": orders,
            "spent": round(profile.spent + data.amount, 2),
            "last_order_at": event.time if last is None or event.time > last else last,
            "purchases": tuple(purchases),
            "lifecycle": "new" if orders == 1 else "loyal",
        }
    )


def _order_refunded(profile: Profile, event: Event, _: ProductCatalog) -> Profile:
    order_id = OrderRefunded.model_validate(event.data).order_id
    purchases = tuple(
        p.model_copy(update={"refunded": True}) if p.order_id == order_id else p for p in profile.purchases
    )
    refunded = (*profile.refunded_orders, order_id)[-PURCHASE_WINDOW:]
    return profile.model_copy(update={"purchases": purchases, "refunded_orders": refunded})


def _service(profile: Profile, event: Event, _: ProductCatalog) -> Profile:
    data = ServiceCompleted.model_validate(event.data)
    attributes = {**profile.attributes, "last_service_date": event.time.date().isoformat()}
    if data.model:
        attributes["car_model"] = data.model
    if data.mileage is not None:
        attributes["mileage"] = data.mileage
    return profile.model_copy(update={"attributes": attributes})


def _consent(profile: Profile, event: Event, _: ProductCatalog) -> Profile:
    data = ConsentChanged.model_validate(event.data)
    return profile.model_copy(update={"consent": {**profile.consent, data.channel: data.granted}})


_FOLDS: dict[str, Fold] = {
    "customer.registered": _registered,
    "profile.updated": _registered,
    "service.completed": _service,
    "order.paid": _order_paid,
    "order.refunded": _order_refunded,
    "consent.changed": _consent,
}
