"""Scenario names, timer prefixes, and what each scenario's evidence looks like."""

from __future__ import annotations

from orchestrator.core.effects import ScenarioHit
from orchestrator.core.state import CustomerState

CYCLE_ENDING = "consumption_cycle_ending"
BUYING_FOR_FRIENDS = "buying_for_friends"
MOVING_HOUSE = "moving_house"
LIFECYCLE_CHANGED = "lifecycle.changed"
VALUE_TIER_CHANGED = "value_tier.changed"
SERVICE_DUE = "service_due"
HIGH_EFFORT = "high_effort"
SURVEY_TAGGED = "survey_tagged"
NPS_PROMOTER = "nps_promoter"
NPS_PASSIVE = "nps_passive"
NPS_DETRACTOR = "nps_detractor"

CYCLE_PREFIX = "cycle:"
STANDING_TIMER = "life:standing"
SERVICE_TIMER = "service:due"
DETECTOR_PREFIXES = (CYCLE_PREFIX, "life:", "service:")

FIRED_WINDOW = 100  # scenario occurrences remembered so none fires twice
ORDER_TYPES = frozenset({"order.paid", "order.refunded"})
CHAT = "chat.message"


def fired_key(hit: ScenarioHit) -> str:
    """How ``state.fired`` remembers a hit. Cycle occurrences keep their historical bare form."""
    return hit.occurrence if hit.scenario == CYCLE_ENDING else f"{hit.scenario}#{hit.occurrence}"


def spent(state: CustomerState, key: str) -> CustomerState:
    """Remember an occurrence as done (fired, or passed without firing) so that it never fires."""
    if key in state.fired:
        return state
    return state.model_copy(update={"fired": (*state.fired, key)[-FIRED_WINDOW:]})


_CHAT = {"source": "chat", "phrase": "快吃完了", "text": "蛋白粉快吃完了", "event_id": "e-1"}
# What each scenario's evidence looks like, for validating templates before anything runs.
SAMPLE_EVIDENCE: dict[str, dict[str, object]] = {
    CYCLE_ENDING: {
        "rule": "last purchase + qty × days_per_unit - lead_days",
        "source": "timer",
        "basis": "catalog",
        "category": "protein",
        "sku": "PRO-900",
        "product": "乳清蛋白粉 900g",
        "orders": ["O-1001"],
        "run_out": "2026-11-25T10:00:00+08:00",
        "days_left": 3,
        "interval_days": None,
        "phrase": None,
        "text": None,
        "event_id": None,
    },
    BUYING_FOR_FRIENDS: {
        "rule": "chat intent asked_by_friend",
        **_CHAT,
        "phrase": "什么牌子",
        "text": "同事过来问这是什么牌子",
        "order_id": None,
        "amount": None,
        "recipient": None,
    },
    MOVING_HOUSE: {
        "rule": "2 big kitchen categories within 30d",
        "source": "order",
        "categories": ["range_hood", "gas_stove"],
        "orders": ["O-9001", "O-9002"],
        "amount": 12999.0,
        "window_days": 30,
        "phrase": None,
        "text": None,
        "event_id": "e-1",
    },
    LIFECYCLE_CHANGED: {
        "rule": "no order for 2 × own rhythm (at least 45 days)",
        "from": "loyal",
        "to": "dormant",
        "orders": 3,
        "days_since_last_order": 61,
        "rhythm_days": 30.0,
        "rhythm_basis": "own",
        "churn_risk": 0.62,
    },
    VALUE_TIER_CHANGED: {
        "rule": "R + F + M scores by thresholds",
        "from": "银",
        "to": "金",
        "score": 11,
        "r": 5,
        "f": 3,
        "m": 3,
        "recency_days": 0,
        "frequency": 3,
        "monetary": 1200.0,
    },
    SERVICE_DUE: {
        "rule": "last service + 365 days or 10000 km at 40 km/day, whichever first",
        "brand": "大众",
        "model": "途观L",
        "last_service": "2026-05-20T11:00:00+08:00",
        "last_mileage": 35000.0,
        "due": "2026-11-20T11:00:00+08:00",
        "by": "mileage",
        "daily_km": 40.0,
        "projected_km": 45000.0,
        "days_left": 14,
    },
    HIGH_EFFORT: {
        "rule": "ces ≥ 5",
        "touchpoint": "after_sales",
        "metric": "ces",
        "score": 6.0,
        "mean": 6.0,
        "count": 1,
        "question": "解决这个问题费力吗？",
        "event_id": "e-1",
    },
    SURVEY_TAGGED: {
        "rule": "answer equals 担心闲置",
        "tag": "担心闲置",
        "question": "还在犹豫什么？",
        "answer": "担心闲置",
        "event_id": "e-1",
    },
}
_NPS = {
    "touchpoint": "after_sales",
    "metric": "nps",
    "mean": 8.0,
    "count": 2,
    "previous": "passive",
    "question": "您有多大可能把我们推荐给朋友？",
    "event_id": "e-1",
}
SAMPLE_EVIDENCE |= {
    NPS_PROMOTER: {"rule": "nps 9-10: promoter", "category": "promoter", "score": 10.0, **_NPS},
    NPS_PASSIVE: {"rule": "nps above 6, below 9: passive", "category": "passive", "score": 8.0, **_NPS},
    NPS_DETRACTOR: {"rule": "nps 0-6: detractor", "category": "detractor", "score": 3.0, **_NPS},
}
SCENARIOS = frozenset(SAMPLE_EVIDENCE)
