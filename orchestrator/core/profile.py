"""fold(profile, event) → profile: what the engine knows about a customer.

Histories (orders, purchases, services) are kept in event-time order whatever order the
events arrive in, so a late store upload lands where it belongs. Stages, tiers and risk
are not folded here: the detectors derive them from these histories (``scenarios``).
"""

from __future__ import annotations

from collections.abc import Callable

from orchestrator.core import staff
from orchestrator.core.event_data import (
    ConsentChanged,
    CustomerRegistered,
    OrderItem,
    OrderPaid,
    OrderRefunded,
    ServiceCompleted,
    SurveyAnswered,
)
from orchestrator.core.events import IDENTITY_KEYS, Event
from orchestrator.core.limits import MAX_ORDER_CATEGORIES
from orchestrator.core.products import ProductCatalog
from orchestrator.core.scenario_spec import ScenarioSettings, SurveySettings
from orchestrator.core.state import (
    ORDER_WINDOW,
    PURCHASE_WINDOW,
    SERVICE_WINDOW,
    OrderRecord,
    Profile,
    Purchase,
    ScoreStat,
    ServiceRecord,
)

# Stock of one order line, in days: beyond ten years it is no consumption cycle, and a run-out
# chained over the purchase window must stay inside the calendar (100 x 3,650 days from 2199).
MAX_STOCK_DAYS = 3650.0
MAX_SPENT = 1e15  # a customer's lifetime total: far beyond any real one, far below a float's range

Fold = Callable[[Profile, Event, ProductCatalog, ScenarioSettings], Profile]


def fold(profile: Profile, event: Event, products: ProductCatalog, settings: ScenarioSettings) -> Profile:
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
    return apply(profile, event, products, settings) if apply else profile


def _registered(profile: Profile, event: Event, _: ProductCatalog, __: ScenarioSettings) -> Profile:
    data = CustomerRegistered.model_validate(event.data)
    return profile.model_copy(
        update={
            "name": data.name or profile.name,
            "tz": data.tz or profile.tz,
            "attributes": {**profile.attributes, **data.attributes},
        }
    )


def _order_paid(profile: Profile, event: Event, products: ProductCatalog, settings: ScenarioSettings) -> Profile:
    data = OrderPaid.model_validate(event.data)
    if any(o.order_id == data.order_id for o in profile.order_log) or any(
        p.order_id == data.order_id for p in profile.purchases
    ):
        return profile  # the same order reported twice
    refunded = data.order_id in profile.refunded_orders
    rhythm = settings.consumption_cycle_ending.rhythm_categories if settings.consumption_cycle_ending else ()
    lines = [_purchase(data.order_id, event, item, products, rhythm) for item in data.items]
    purchases = [p.model_copy(update={"refunded": refunded}) for p in lines if p is not None]
    record = OrderRecord(
        order_id=data.order_id,
        time=event.time,
        amount=data.amount,
        categories=tuple(dict.fromkeys(c for c in (_category(i, products) for i in data.items) if c))[
            :MAX_ORDER_CATEGORIES
        ],
        refunded=refunded,
    )
    last = profile.last_order_at
    return profile.model_copy(
        update={
            "orders": profile.orders + 1,
            # Amounts are bounded at the door; the cap keeps the sum finite whatever the history.
            "spent": round(min(profile.spent + data.amount, MAX_SPENT), 2),
            "last_order_at": event.time if last is None or event.time > last else last,
            "purchases": tuple(sorted((*profile.purchases, *purchases), key=lambda p: p.time)[-PURCHASE_WINDOW:]),
            "order_log": tuple(sorted((*profile.order_log, record), key=lambda o: o.time)[-ORDER_WINDOW:]),
        }
    )


def _category(item: OrderItem, products: ProductCatalog) -> str | None:
    product = products.products.get(item.sku)
    return product.category if product else item.category


def _purchase(
    order_id: str, event: Event, item: OrderItem, products: ProductCatalog, rhythm: tuple[str, ...]
) -> Purchase | None:
    """The consumable in an order line: a catalog SKU, or an unlisted SKU of a rhythm category."""
    product = products.products.get(item.sku)
    if product is None and item.category not in rhythm:
        return None  # not a consumable the engine tracks
    per_unit = product.days_per_unit if product else None
    return Purchase(
        order_id=order_id,
        time=event.time,
        sku=item.sku,
        category=product.category if product else str(item.category),
        qty=item.qty,
        days=min(item.qty * per_unit, MAX_STOCK_DAYS) if per_unit is not None else None,
        lead_days=product.lead_days if product else None,
        product_name=product.name if product else (item.name or item.sku),
    )


def _order_refunded(profile: Profile, event: Event, _: ProductCatalog, __: ScenarioSettings) -> Profile:
    order_id = OrderRefunded.model_validate(event.data).order_id
    purchases = tuple(
        p.model_copy(update={"refunded": True}) if p.order_id == order_id else p for p in profile.purchases
    )
    log = tuple(o.model_copy(update={"refunded": True}) if o.order_id == order_id else o for o in profile.order_log)
    refunded = (*profile.refunded_orders, order_id)[-PURCHASE_WINDOW:]
    return profile.model_copy(update={"purchases": purchases, "refunded_orders": refunded, "order_log": log})


def _service(profile: Profile, event: Event, _: ProductCatalog, __: ScenarioSettings) -> Profile:
    data = ServiceCompleted.model_validate(event.data)
    attributes = {**profile.attributes}
    latest = not profile.services or event.time >= profile.services[-1].time
    if latest:
        attributes["last_service_date"] = event.time.date().isoformat()
        attributes.update({k: v for k, v in (("car_model", data.model), ("car_brand", data.brand)) if v})
        if data.mileage is not None:
            attributes["mileage"] = data.mileage
    record = ServiceRecord(time=event.time, mileage=data.mileage, brand=data.brand, model=data.model)
    services = tuple(sorted((*profile.services, record), key=lambda s: s.time)[-SERVICE_WINDOW:])
    return profile.model_copy(update={"attributes": attributes, "services": services})


def _consent(profile: Profile, event: Event, _: ProductCatalog, __: ScenarioSettings) -> Profile:
    data = ConsentChanged.model_validate(event.data)
    decided = profile.consent_at.get(data.channel)
    if decided is not None and event.time < decided:
        return profile  # an older decision that arrived late: the later one stands
    consent, consent_at = (
        {**profile.consent, data.channel: data.granted},
        {**profile.consent_at, data.channel: event.time},
    )
    return profile.model_copy(update={"consent": consent, "consent_at": consent_at})


def _survey(profile: Profile, event: Event, _: ProductCatalog, settings: ScenarioSettings) -> Profile:
    if settings.surveys is None:
        return profile
    data = SurveyAnswered.model_validate(event.data)
    tags = tuple(dict.fromkeys((*profile.tags, *survey_tags(data, settings.surveys))))
    experience = profile.experience
    scale = settings.surveys.scales.get(data.metric or "")
    if data.metric and data.score is not None and scale and scale.min <= data.score <= scale.max:
        experience = _scored(experience, (data.touchpoint, data.metric, data.score), event)
    return profile.model_copy(update={"tags": tags, "experience": experience})


def survey_tags(data: SurveyAnswered, surveys: SurveySettings) -> list[str]:
    """The tags the configured answer rules give this answer."""
    answer = (data.answer or "").strip()
    found = []
    for rule in surveys.tags:
        if rule.question is not None and rule.question not in (data.question, data.survey_id):
            continue
        if (rule.match == "equals" and answer == rule.answer) or (rule.match == "contains" and rule.answer in answer):
            found.append(rule.tag)
    return found


def _scored(
    experience: dict[str, dict[str, ScoreStat]], answer: tuple[str, str, float], event: Event
) -> dict[str, dict[str, ScoreStat]]:
    """Fold one (touchpoint, metric, score): the last answer by event time, the running mean."""
    touchpoint, metric, score = answer
    metrics = dict(experience.get(touchpoint, {}))
    old = metrics.get(metric)
    if old is None:
        metrics[metric] = ScoreStat(last=score, mean=score, count=1, at=event.time)
    else:
        latest = event.time >= old.at
        metrics[metric] = ScoreStat(
            last=score if latest else old.last,
            mean=round(old.mean + (score - old.mean) / (old.count + 1), 4),
            count=old.count + 1,
            at=event.time if latest else old.at,
        )
    return {**experience, touchpoint: metrics}


_FOLDS: dict[str, Fold] = {
    "customer.registered": _registered,
    "profile.updated": _registered,
    "service.completed": _service,
    "order.paid": _order_paid,
    "order.refunded": _order_refunded,
    "consent.changed": _consent,
    "survey.answered": _survey,
    "contact.added": staff.contact_added,
    "staff.handover": staff.handed_over,
}
