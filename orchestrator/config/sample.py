"""The sample customer that conditions and templates are tried on before anything runs."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial
from typing import Any

import msgspec

from orchestrator.core.journey_spec import DateTrigger, EventTrigger, JourneySpec, ScenarioTrigger, ScheduleTrigger
from orchestrator.core.products import ProductCatalog
from orchestrator.core.recommend import recommend
from orchestrator.core.scenarios import SAMPLE_EVIDENCE
from orchestrator.core.state import Profile
from orchestrator.core.view import plain

SAMPLE_NOW = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)


def sample_context(
    journey: JourneySpec, on_event: bool = False, catalog: ProductCatalog | None = None
) -> dict[str, Any]:
    """A plausible customer for dry renders, overridden by the journey's ``sample:``."""
    profile: dict[str, Any] = plain(
        Profile(
            name="王女士",
            identity={"member_id": "M0001", "phone": "+8613800000000", "wecom_external_id": "wm-0001"},
            orders=2,
            spent=398.0,
            lifecycle="loyal",
            first_seen_at=SAMPLE_NOW,
            last_order_at=SAMPLE_NOW,
        )
    )
    profile.update(days_since_last_order=30, days_since_first_seen=200)
    sample = journey.sample
    profile = _merge(profile, sample.profile)
    trigger = journey.trigger
    scenario: dict[str, Any] = {}
    if isinstance(trigger, ScenarioTrigger):
        scenario = {"name": trigger.scenario, **SAMPLE_EVIDENCE.get(trigger.scenario, {})}
    event: dict[str, Any] = {
        "id": "sample",
        "type": trigger.event if isinstance(trigger, EventTrigger) else "sample",
        "time": SAMPLE_NOW.isoformat(),
        "identity": {"member_id": "M0001"},
        "data": {},
    }
    if isinstance(trigger, ScheduleTrigger | DateTrigger) and not on_event:
        event = {}  # entered by a timer: no event (declare one under `sample.event` if a step expects it)
    event = _merge(event, sample.event)
    return {
        "profile": profile,
        "event": event,
        "trigger": event,
        "scenario": _merge(scenario, sample.scenario),
        "journey": {"id": journey.id, "version": journey.version, "variant": None, "step": "sample", "visit": 1},
        "customer_id": "M0001",
        "now": SAMPLE_NOW.isoformat(),
        "recommend": partial(recommend, _as_profile(profile), catalog or ProductCatalog()),
    }


def _as_profile(view: dict[str, Any]) -> Profile:
    """The sample as a Profile, for recommend() (the sample's purchases, tags); empty if it is not one."""
    try:
        return msgspec.convert({k: v for k, v in view.items() if k in Profile.__struct_fields__}, Profile, strict=False)
    except msgspec.ValidationError:
        return Profile()


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        merged[key] = (
            _merge(merged[key], value) if isinstance(value, dict) and isinstance(merged.get(key), dict) else value
        )
    return merged
