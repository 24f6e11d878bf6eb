"""Figures worked out once per input and shared: the same answers as reading them afresh.

The standing detectors take one list of paid orders (``base.paid_until``), the population's
sketches remember their quantiles, and the observed intervals are grouped in one pass.
Each is checked against the plain reading it replaced, over generated histories.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.core import CustomerState
from orchestrator.core.population import INTERVAL, Observation, Population, Sketch, _bucket
from orchestrator.core.runtime import Ctx, Effects
from orchestrator.core.scenario_spec import LifecycleSettings, ScenarioSettings, ValueTierSettings
from orchestrator.core.scenarios import lifecycle, standing, value_tier
from orchestrator.core.scenarios.base import Signal, intervals, paid_until
from orchestrator.core.scenarios.observe import _series, observations
from orchestrator.core.state import OrderRecord, Profile
from tests.builders import NOW, make_world

DAY = timedelta(days=1)
Order = tuple[int, float, tuple[str, ...], bool]  # days ago, amount, categories (repeats allowed), refunded
CATEGORIES = st.lists(st.sampled_from(["cd", "tea", "coffee"]), max_size=3).map(tuple)
ORDERS = st.lists(st.tuples(st.integers(0, 400), st.floats(0, 5000), CATEGORIES, st.booleans()), max_size=12)


def _profile(orders: list[Order]) -> Profile:
    log = tuple(
        OrderRecord(order_id=f"O{n}", time=NOW - days * DAY, amount=round(amount, 2), categories=cats, refunded=ref)
        for n, (days, amount, cats, ref) in enumerate(sorted(orders, key=lambda o: -o[0]))
    )
    return Profile(order_log=log, orders=sum(1 for o in log if not o.refunded))


def _series_afresh(profile: Profile) -> dict[str, list[float]]:
    """The observed intervals as they were read before: one pass over the orders per category."""
    paid = profile.paid_orders()
    series = {f"{INTERVAL}*": intervals(o.time for o in paid)}
    for category in sorted({c for o in paid for c in o.categories}):
        series[f"{INTERVAL}{category}"] = intervals(o.time for o in paid if category in o.categories)
    return {k: v for k, v in series.items() if v}


@settings(max_examples=200, deadline=None)
@given(ORDERS, st.integers(-10, 30))
def test_shared_paid_orders_give_the_stage_and_tier_a_fresh_reading_gives(orders: list[Order], back: int) -> None:
    profile, as_of = _profile(orders), NOW - back * DAY  # as of a moment some orders may come after
    world, life, tier = make_world(), LifecycleSettings(), ValueTierSettings()
    paid = paid_until(profile, as_of)
    assert paid == [o for o in profile.paid_orders() if o.time <= as_of]
    assert lifecycle.evaluate(profile, as_of, life, world, paid) == lifecycle.evaluate(profile, as_of, life, world)
    population = Population()
    assert value_tier.evaluate(profile, as_of, tier, population, paid) == value_tier.evaluate(
        profile, as_of, tier, population
    )
    assert value_tier.crossings(profile, as_of, tier, paid) == value_tier.crossings(profile, as_of, tier)


@settings(max_examples=200, deadline=None)
@given(ORDERS)
def test_observed_intervals_grouped_in_one_pass_are_those_read_per_category(orders: list[Order]) -> None:
    profile = _profile(orders)
    assert _series(profile) == _series_afresh(profile)


def test_a_category_every_order_has_observes_the_same_intervals_as_all_orders() -> None:
    before = _profile([(30, 10.0, ("cd",), False)])
    after = _profile([(30, 10.0, ("cd",), False), (10, 12.0, ("cd", "cd"), False)])
    found = Counter((o.key, o.value, o.weight) for o in observations(before, after))
    assert found[("interval:*", 20.0, 1)] == 1
    assert found[("interval:cd", 20.0, 1)] == 1


def test_a_sketch_remembers_its_quantiles_and_a_new_one_starts_afresh() -> None:
    few = Population().observe(Observation(key="k", value=v) for v in (10, 20, 30))
    assert few.median("k", 1) == few.median("k", 1) == few.sketches["k"].quantile(0.5)
    more = few.observe(Observation(key="k", value=v) for v in (100, 100, 100, 100))
    assert more.median("k", 1) != few.median("k", 1)  # the new sketch does not read the old one's
    assert more.sketches["k"] != few.sketches["k"]
    assert few.sketches["k"] == replace(few.sketches["k"])  # remembered quantiles are not part of the value


def _evaluate(state: CustomerState, as_of: datetime) -> tuple[CustomerState, Effects]:
    world = replace(make_world(), scenarios=ScenarioSettings.model_validate({"lifecycle": {}, "value_tier": {}}))
    fx = Effects()
    sig = Signal(Ctx(world=world, now=as_of, event=None), fx, state.profile, None, at=as_of, as_of=as_of)
    changed, _ = standing.on_event(state, sig)
    return changed, fx


def test_an_evaluation_that_changes_nothing_keeps_the_same_objects_and_the_timer() -> None:
    log = (OrderRecord(order_id="O1", time=NOW - 10 * DAY, amount=50.0),)
    state = CustomerState.new("M1").model_copy(update={"profile": Profile(order_log=log, orders=1)})
    first, fx = _evaluate(state, NOW)
    assert first.profile.lifecycle == "new"
    assert fx.timers_set  # the next crossing
    again, fx = _evaluate(first, NOW)
    assert again is first  # nothing moved: the same state, no timer set again
    assert fx.timers_set == {}
    later, fx = _evaluate(first, NOW + DAY)  # recency and churn risk moved on, not the stage
    assert later.profile.rfm != first.profile.rfm
    assert later.profile.lifecycle == first.profile.lifecycle
    assert fx.timers_set == {}  # the next crossing is where it was


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(["a", "b"]), st.floats(0, 1e6), st.sampled_from([1, -1])), max_size=30),
    st.lists(st.tuples(st.sampled_from(["a", "b"]), st.floats(0, 1e6)), max_size=10),
)
def test_observing_a_batch_is_observing_one_value_after_another(
    batch: list[tuple[str, float, int]], seen: list[tuple[str, float]]
) -> None:
    start = Population().observe(Observation(key=k, value=v) for k, v in seen)
    one_by_one = start
    for key, value, weight in batch:  # the plain reading: a sketch copied for every value
        sketches = dict(one_by_one.sketches)
        old = sketches.get(key, Sketch())
        counts = dict(old.counts)
        bucket = _bucket(value)
        count = counts.get(bucket, 0) + weight
        if count > 0:
            counts[bucket] = count
        else:
            counts.pop(bucket, None)
        sketches[key] = Sketch(counts, max(0, old.total + weight))
        one_by_one = Population(sketches)
    together = start.observe(Observation(key=k, value=v, weight=w) for k, v, w in batch)
    assert together == one_by_one
