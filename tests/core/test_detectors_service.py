"""service_due: time or projected mileage since the last service, per car brand."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, time, timedelta
from typing import Any

import pytest

from orchestrator.core import CustomerState, Event, World
from orchestrator.core.scenario_spec import ScenarioSettings
from orchestrator.core.scenarios.names import SAMPLE_EVIDENCE
from tests.builders import NOW, fire, make_event, make_world, run

DAY = timedelta(days=1)
SERVICE = {
    "default": {"interval_days": 180, "interval_km": 5000},
    "brands": {
        "大众": {"interval_days": 365, "interval_km": 10000},
        "特斯拉": {"interval_days": 730},
        "ID.4 CROZZ": {"interval_days": 540},
    },
    "lead_days": 14,
    "daily_km": 40,
    "min_span_days": 30,
}


def _world(**service: Any) -> World:
    return replace(make_world(), scenarios=ScenarioSettings.model_validate({"service_due": {**SERVICE, **service}}))


def _service(at: datetime, mileage: float | None = None, brand: str | None = None) -> Event:
    data = {k: v for k, v in {"mileage": mileage, "brand": brand, "model": "途观L"}.items() if v is not None}
    return make_event("service.completed", at, data, id_=f"svc-{at.isoformat()}")


# services (days ago, km, brand) → (due in days after the last service, by)
CASES: dict[str, tuple[list[tuple[float, float | None, str | None]], tuple[float, str]]] = {
    "default plan, default 40 km/day: 5000 km in 125 days": ([(0, 30000, None)], (125, "mileage")),
    "brand plan: 10000 km at 40 km/day is 250 days < 365": ([(0, 30000, "大众")], (250, "mileage")),
    "own pace 20 km/day: time comes first": ([(100, 28000, None), (0, 30000, None)], (180, "time")),
    "own pace 100 km/day": ([(60, 24000, None), (0, 30000, None)], (50, "mileage")),
    "readings too close together: default pace": ([(10, 29000, None), (0, 30000, None)], (125, "mileage")),
    "a brand without a km interval": ([(0, 30000, "特斯拉")], (730, "time")),
    "no odometer reading: the default pace still projects": ([(0, None, None)], (125, "mileage")),
}


@pytest.mark.parametrize("case", list(CASES))
def test_the_next_service_is_due_by_time_or_projected_mileage(case: str) -> None:
    services, (due_days, by) = CASES[case]
    events = [_service(NOW - d * DAY, km, brand) for d, km, brand in services]
    timer = run(_world(), CustomerState.new("M1"), *events)[-1].state.timers["service:due"]
    assert datetime.fromisoformat(timer.data["due"]) == NOW + due_days * DAY
    assert timer.due_at == NOW + (due_days - 14) * DAY
    assert timer.data["by"] == by


def test_a_plan_can_be_keyed_by_model_name() -> None:
    event = make_event("service.completed", NOW, {"model": "ID.4 CROZZ", "mileage": 18000})
    timer = run(_world(), CustomerState.new("M1"), event)[-1].state.timers["service:due"]
    assert (timer.data["due"], timer.data["by"]) == ((NOW + 540 * DAY).isoformat(), "time")


def test_without_a_plan_for_the_brand_nothing_is_scheduled() -> None:
    world = _world(default=None)
    assert run(world, CustomerState.new("M1"), _service(NOW, 1000, "红旗"))[-1].state.timers == {}


def test_the_timer_fires_once_with_projected_mileage() -> None:
    world = _world()
    state = run(world, CustomerState.new("M1"), _service(NOW - 111 * DAY, 30000))[-1].state
    timer = fire(state, "service:due")
    first, again = run(world, state, timer, timer, now=state.timers["service:due"].due_at)
    [hit] = first.hits
    assert hit.occurrence == f"service:{(NOW - 111 * DAY).isoformat()}"
    assert (hit.evidence["by"], hit.evidence["projected_km"], hit.evidence["days_left"]) == ("mileage", 35000, 14)
    assert set(hit.evidence) == set(SAMPLE_EVIDENCE["service_due"])
    assert again.duplicate


def test_a_new_service_moves_the_timer_and_an_old_one_is_history() -> None:
    world = _world()
    state = run(world, CustomerState.new("M1"), _service(NOW - 400 * DAY, 10000))[-1].state
    [outcome] = run(world, state, fire(state, "service:due"), now=NOW)  # due 275 days ago
    assert outcome.hits == ()
    state = run(world, outcome.state, _service(NOW, 20000))[-1].state
    assert state.timers["service:due"].data["occurrence"] == f"service:{NOW.isoformat()}"


def test_a_late_uploaded_older_service_does_not_replace_the_latest() -> None:
    world = _world()
    outcomes = run(world, CustomerState.new("M1"), _service(NOW, 30000), _service(NOW - 200 * DAY, 22000))
    timer = outcomes[-1].state.timers["service:due"]
    assert timer.data["last_service"] == NOW.isoformat()
    assert outcomes[-1].state.profile.attributes["mileage"] == 30000


@pytest.mark.parametrize("recorded", ["02:00", "10:30", "23:40"])
def test_the_reminder_fires_on_a_whole_day_in_the_daytime(recorded: str) -> None:
    # 10000 km at 37 km/day is 270.27 days: the due date is a whole day, never a fraction of one.
    hour, minute = map(int, recorded.split(":"))
    at = NOW.replace(hour=hour, minute=minute)
    timer = run(_world(daily_km=37), CustomerState.new("M1"), _service(at, 30000, "大众"))[-1].state.timers
    due_at = timer["service:due"].due_at
    assert due_at.date() == (at + (270 - 14) * DAY).date()
    assert time(9) <= due_at.timetz().replace(tzinfo=None) <= time(20)
    assert due_at.timetz().replace(tzinfo=None) == (at.time() if recorded == "10:30" else time(10))
