"""Fitted figures (core/figures.py, core/forecast.py): churn risk, stages by fitted cuts, cycle timing."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from orchestrator.core import CustomerState, World, forecast
from orchestrator.core.figures import Figures
from orchestrator.core.scenario_spec import CycleSettings, LifecycleSettings, ScenarioSettings
from orchestrator.core.scenarios import lifecycle
from orchestrator.core.scenarios.cycle import cycle_timers
from orchestrator.core.state import OrderRecord, Profile
from tests.builders import NOW, fire, make_event, make_world, order, run

DAY = timedelta(days=1)
FIGURES: dict[str, Any] = {
    "version": 1,
    "fitted_at": "2026-01-01T00:00:00Z",
    "calibration_end": "2025-12-31",
    "source": "events.jsonl",
    "customers": 1000,
    "bgnbd": {"r": 0.25, "alpha_days": 33.0, "a": 0.75, "b": 2.2},
    "churn": {
        "horizon_days": 90,
        "weights": {
            "intercept": 0.9,
            "logit_bgnbd": 0.6,
            "log_repeat": -0.66,
            "log_recency": 0.07,
            "log_age": 0.12,
            "log_amount": -0.27,
        },
    },
    "stages": {"dormant_at": 0.72, "churned_at": 0.85},
    "intervals": {
        "*": {"mean_log": 3.16, "between_var": 0.42, "within_var": 1.29, "customers": 900, "min_chance": 0.2}
    },
}


def _figures(**changes: Any) -> Figures:
    return Figures.model_validate({**FIGURES, **changes})


def _world(figures: Figures | None = None, **scenarios: Any) -> World:
    settings = ScenarioSettings.model_validate({"lifecycle": {}, **scenarios})
    return replace(make_world(), scenarios=settings, figures=figures or _figures())


def _profile(*days_ago: float, amount: float = 50) -> Profile:
    log = tuple(
        OrderRecord(order_id=f"O{i}", time=NOW - d * DAY, amount=amount)
        for i, d in enumerate(sorted(days_ago, reverse=True))
    )
    return Profile(first_seen_at=NOW - 400 * DAY, order_log=log, orders=len(log))


def _history(*days_ago: float) -> forecast.History:
    moments = [NOW - d * DAY for d in sorted(days_ago, reverse=True)]
    found = forecast.history(moments, [50.0] * len(moments), NOW)
    assert found is not None
    return found


def test_bgnbd_quiet_matches_the_closed_form() -> None:
    p = _figures().bgnbd
    h = _history(100, 60, 20)  # x = 2, t_x = 80, T = 100
    alive = 1 / (1 + p.a / (p.b + 1) * ((p.alpha_days + 100) / (p.alpha_days + 80)) ** (p.r + 2))
    expected = 1 - alive * (1 - ((p.alpha_days + 100) / (p.alpha_days + 190)) ** (p.r + 2))
    assert forecast.quiet(h, p, 90) == pytest.approx(expected)
    assert forecast.quiet(_history(10), p, 90) == pytest.approx(((p.alpha_days + 10) / (p.alpha_days + 100)) ** p.r)


def test_risk_rises_with_silence_and_falls_with_frequency() -> None:
    figures = _figures()
    assert forecast.churn_risk(_history(100, 60, 20), figures) < forecast.churn_risk(_history(180, 140, 100), figures)
    assert forecast.churn_risk(_history(100, 80, 60, 40, 20), figures) < forecast.churn_risk(_history(100, 20), figures)


def test_stages_come_from_the_fitted_cuts() -> None:
    world, settings = _world(), LifecycleSettings()
    for ages in ((30, 10), (200, 150, 100), (300,), (60,)):
        standing = lifecycle.evaluate(_profile(*ages), NOW, settings, world)
        risk = forecast.churn_risk(_history(*ages), world.figures)  # type: ignore[arg-type]
        expected = "churned" if risk >= 0.85 else "dormant" if risk >= 0.72 else ("loyal" if len(ages) > 1 else "new")
        assert standing.stage == expected
        assert standing.churn_risk == round(risk, 4)
    assert lifecycle.evaluate(Profile(first_seen_at=NOW), NOW, settings, world).stage == "registered"


def test_the_crossing_is_where_time_alone_takes_the_risk_to_the_cut() -> None:
    world, settings = _world(), LifecycleSettings()
    profile = _profile(40, 20, 5)
    standing = lifecycle.evaluate(profile, NOW, settings, world)
    assert standing.stage == "loyal"
    [dormant_at] = standing.crossings()  # only the next one is worked out
    assert dormant_at > NOW
    assert lifecycle.evaluate(profile, dormant_at - timedelta(minutes=2), settings, world).stage == "loyal"
    dormant = lifecycle.evaluate(profile, dormant_at, settings, world)
    assert dormant.stage == "dormant"
    [churned_at] = [m for m in dormant.crossings() if m > dormant_at]
    assert lifecycle.evaluate(profile, churned_at - timedelta(minutes=2), settings, world).stage == "dormant"
    churned = lifecycle.evaluate(profile, churned_at, settings, world)
    assert churned.stage == "churned"
    assert churned.crossings() == []
    assert "fitted churn risk at least 0.85" in churned.rule(settings)
    # the same crossing whatever moment it is asked from
    assert lifecycle.evaluate(profile, NOW + 3 * DAY, settings, world).crossings() == [dormant_at]


def test_the_standing_timer_moves_the_stage_at_the_fitted_crossing() -> None:
    world = _world()
    [first] = run(world, CustomerState.new("M1"), order(NOW, "O1", ("SKU-X", 1)))
    assert first.state.profile.lifecycle == "new"
    [later] = run(
        world, first.state, fire(first.state, "life:standing"), now=first.state.timers["life:standing"].due_at
    )
    assert later.state.profile.lifecycle in ("dormant", "churned")
    assert [h.evidence["to"] for h in later.hits if h.scenario == "lifecycle.changed"] == [
        later.state.profile.lifecycle
    ]


def test_next_interval_shrinks_own_intervals_toward_the_population() -> None:
    fit = _figures().intervals["*"]
    population = forecast.next_interval([], fit)
    assert population == pytest.approx(math.exp(3.16), abs=0.01)
    own = forecast.next_interval([7, 7, 7, 7, 7, 7, 7, 7], fit)
    assert 7 < own < population  # many short intervals: close to 7, never past the population
    assert forecast.next_interval([7], fit) > own  # one interval says less


def _cycle_world(min_chance: float) -> World:
    interval = {**FIGURES["intervals"]["*"], "min_chance": min_chance}
    return _world(
        _figures(intervals={"*": interval}), consumption_cycle_ending=CycleSettings(rhythm_categories=("coffee",))
    )


def _bought(*days_ago: float) -> Profile:
    state = CustomerState.new("M1")
    world = _cycle_world(0.0)
    for k, d in enumerate(sorted(days_ago, reverse=True)):
        at = NOW - d * DAY
        coffee = {"order_id": f"O{k}", "amount": 50, "items": [{"sku": "BEAN-X", "category": "coffee", "qty": 1}]}
        [outcome] = run(world, state, make_event("order.paid", at, coffee, id_=f"pay-O{k}"), now=at)
        state = outcome.state
    return state.profile


def test_cycle_timer_at_the_predicted_median_when_likely_enough() -> None:
    profile = _bought(60, 40, 20)
    world = _cycle_world(0.0)
    [timer] = cycle_timers(profile, world).values()
    assert timer.data["basis"] == "fitted"
    interval = float(timer.data["interval_days"])
    assert interval == forecast.next_interval([20, 20], world.figures.intervals["*"])  # type: ignore[union-attr]
    assert datetime.fromisoformat(timer.data["run_out"]) == NOW - 20 * DAY + interval * DAY
    assert cycle_timers(profile, _cycle_world(0.99)) == {}  # nobody is that likely to buy: no hit at all


def test_bad_figures_name_the_field() -> None:
    with pytest.raises(ValidationError, match="churned_at must be above dormant_at"):
        _figures(stages={"dormant_at": 0.8, "churned_at": 0.7})
    with pytest.raises(ValidationError, match="missing log_amount"):
        _figures(churn={"weights": {k: 0 for k in FIGURES["churn"]["weights"] if k != "log_amount"}})
    with pytest.raises(ValidationError, match="format 2 is not the one this engine reads"):
        _figures(version=2)
