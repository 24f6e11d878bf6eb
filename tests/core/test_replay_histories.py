"""Replays of multi-month synthetic histories with known answers, through simulate and through process.

Eight customers over eight months, each with one story whose scenario hits are known in
advance. The same history replayed gives the same bytes; delivered late (store uploads
hours behind) or shuffled within a customer, it gives the same hits.
"""

from __future__ import annotations

import heapq
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson
import pytest

from orchestrator.config.catalog import load_config
from orchestrator.core import CustomerState, Event, TimerFired, World, parse_event, process
from orchestrator.core.population import Population
from orchestrator.core.scenarios import SCENARIOS
from orchestrator.service.simulate import simulate
from tests.builders import journey, make_world

CST = timezone(timedelta(hours=8))
START = datetime(2026, 1, 5, 10, 0, tzinfo=CST)
END = datetime(2026, 10, 1, tzinfo=CST)
DAY = timedelta(days=1)
REPO = Path(__file__).resolve().parents[2]


def _world() -> World:
    """The shipped catalog and detector settings, with one journey per scenario that only records."""
    config = load_config(REPO / "journeys", REPO / "templates", only=[])
    recorders = [journey(id=f"record-{s.replace('.', '-')}", trigger={"scenario": s}) for s in sorted(SCENARIOS)]
    base = make_world(*recorders)  # a hit enters its journey, so scenario cooldowns hold
    return replace(base, products=config.products, scenarios=config.scenarios, tokenizer=config.world().tokenizer)


def _event(n: int, member: str, type_: str, day: float, data: dict[str, Any], **identity: str) -> Event:
    at = START + day * DAY
    return parse_event(
        {
            "id": f"{member}-{n}",
            "type": type_,
            "time": at.isoformat(),
            "identity": {"member_id": member, **identity},
            "data": data,
        }
    )


def _order(n: int, member: str, day: float, *items: dict[str, Any], amount: float = 199) -> Event:
    return _event(n, member, "order.paid", day, {"order_id": f"{member}-O{n}", "amount": amount, "items": list(items)})


def _history() -> list[Event]:
    protein = {"sku": "PRO-900", "qty": 1}
    coffee = {"sku": "BEAN-1", "category": "coffee", "qty": 1}
    return [
        # A: protein every 30 days (catalog: 30 days per tin, 5 days' lead), five tins, then silence.
        *[_order(i, "A", 30 * i, protein) for i in range(5)],
        # B: coffee (no catalog figure) every 20 days: the third order gives two intervals.
        *[_order(i, "B", 20 * i, coffee, amount=60) for i in range(4)],
        # C: one tin, then says it is running out after 20 days; never again.
        _order(0, "C", 10, protein),
        _event(1, "C", "chat.message", 30, {"text": "蛋白粉还没吃完呢"}),
        _event(2, "C", "chat.message", 31, {"text": "蛋白粉快吃完了"}),
        # D: a range hood, then a gas stove 12 days later (min_categories 1 in the shipped settings).
        _order(0, "D", 40, {"sku": "RH-1", "category": "range_hood"}, amount=6999),
        _order(1, "D", 52, {"sku": "GS-1", "category": "gas_stove"}, amount=3999),
        # E: a colleague asked; then a gift order within the cooldown.
        _event(0, "E", "chat.message", 60, {"text": "同事过来问这是什么牌子"}),
        _event(1, "E", "order.paid", 62, {"order_id": "E-O1", "amount": 199, "items": [protein], "gift": True}),
        # F: a car serviced at 30000 km, 40 km/day by default: 5000 km in 125 days, 14 days' lead.
        _event(0, "F", "service.completed", 0, {"brand": "丰田", "mileage": 30000}),
        # G: a hard after-sales experience.
        _event(0, "G", "survey.answered", 100, {"metric": "ces", "score": 6, "touchpoint": "after_sales"}),
        # H: registered, never buys.
        _event(0, "H", "customer.registered", 0, {"name": "无名"}),
    ]


def _day(day: float) -> str:
    return (START + day * DAY).isoformat()


# (customer, scenario, occurrence) — everything that must fire, and nothing else. Without a
# population fed back (simulate), one interval is not a rhythm: the seed (* = 45 days) is.
KNOWN: set[tuple[str, str, str]] = {
    # A: each tin's run-out, five of them; loyal, then dormant at max(45, 2 × 30) and churned at
    # max(120, 4 × 30) days of silence; 2 orders ¥398 = R5 F2 M2 (银), 5 orders ¥995 = R5 F4 M2 (金),
    # 90 days on R4 (银).
    *{("A", "consumption_cycle_ending", f"protein:{(START + 30 * i * DAY).date()}") for i in range(1, 6)},
    ("A", "lifecycle.changed", f"registered>new:{_day(0)}"),
    ("A", "lifecycle.changed", f"new>loyal:{_day(30)}"),
    ("A", "lifecycle.changed", f"loyal>dormant:{_day(120 + 60)}"),
    ("A", "lifecycle.changed", f"dormant>churned:{_day(120 + 120)}"),
    ("A", "value_tier.changed", f"普通>银:{_day(30)}"),
    ("A", "value_tier.changed", f"银>金:{_day(120)}"),
    ("A", "value_tier.changed", f"金>银:{_day(120 + 90)}"),
    # B: coffee by its own 20-day rhythm once two intervals are known (orders at 40 and 60);
    # dormant at the 45-day floor, churned at the 120-day floor; ¥60 orders: 银 from R5 F2 M1
    # until R3 (180 days on).
    ("B", "consumption_cycle_ending", f"coffee:{(START + 60 * DAY).date()}"),
    ("B", "consumption_cycle_ending", f"coffee:{(START + 80 * DAY).date()}"),
    ("B", "lifecycle.changed", f"registered>new:{_day(0)}"),
    ("B", "lifecycle.changed", f"new>loyal:{_day(20)}"),
    ("B", "lifecycle.changed", f"loyal>dormant:{_day(60 + 45)}"),
    ("B", "lifecycle.changed", f"dormant>churned:{_day(60 + 120)}"),
    ("B", "value_tier.changed", f"普通>银:{_day(20)}"),
    ("B", "value_tier.changed", f"银>普通:{_day(60 + 180)}"),
    # C: "还没吃完呢" is nothing; "快吃完了" fires at once as the tin's own moment (run-out day 40).
    ("C", "consumption_cycle_ending", f"protein:{(START + 40 * DAY).date()}"),
    ("C", "lifecycle.changed", f"registered>new:{_day(10)}"),
    ("C", "lifecycle.changed", f"new>dormant:{_day(10 + 90)}"),
    ("C", "lifecycle.changed", f"dormant>churned:{_day(10 + 180)}"),
    # D: the range hood is the move (one big appliance suffices in the shipped settings), the stove
    # is the same move; ¥6999 = R5 F1 M4 (银), then F2 M5 (金) until R3.
    ("D", "moving_house", f"orders:{(START + 40 * DAY).date()}"),
    ("D", "lifecycle.changed", f"registered>new:{_day(40)}"),
    ("D", "lifecycle.changed", f"new>loyal:{_day(52)}"),
    ("D", "lifecycle.changed", f"loyal>dormant:{_day(52 + 90)}"),
    ("D", "lifecycle.changed", f"dormant>churned:{_day(52 + 180)}"),
    ("D", "value_tier.changed", f"普通>银:{_day(40)}"),
    ("D", "value_tier.changed", f"银>金:{_day(52)}"),
    ("D", "value_tier.changed", f"金>银:{_day(52 + 180)}"),
    # E: the colleague's question; the gift order two days later is the same moment (7-day
    # cooldown) but starts a protein cycle.
    ("E", "buying_for_friends", f"chat:{(START + 60 * DAY).date()}"),
    ("E", "consumption_cycle_ending", f"protein:{(START + 92 * DAY).date()}"),
    ("E", "lifecycle.changed", f"registered>new:{_day(62)}"),
    ("E", "lifecycle.changed", f"new>dormant:{_day(62 + 90)}"),
    ("E", "lifecycle.changed", f"dormant>churned:{_day(62 + 180)}"),
    ("F", "service_due", f"service:{_day(0)}"),
    ("G", "high_effort", "after_sales:G-0"),
}


def _hits(records: list[bytes]) -> set[tuple[str, str, str]]:
    hits = [orjson.loads(r) for r in records if r.startswith(b'{"hit_id"')]
    return {(h["customer_id"], h["scenario"], h["occurrence"]) for h in hits}


def _lines(events: list[Event]) -> list[bytes]:
    return [e.model_dump_json(exclude={"kind"}).encode() for e in events]


@pytest.fixture(scope="module")
def world() -> World:
    return _world()


def test_simulate_finds_exactly_the_known_moments(world: World) -> None:
    sim = simulate(world, _lines(_history()), END)
    found = _hits(sim.records)
    assert found - KNOWN == set(), "unexpected hits"
    assert KNOWN - found == set(), "missed hits"
    assert sim.states["H"].profile.lifecycle == "registered"
    assert sim.states["A"].profile.lifecycle == "churned"
    assert sim.states["A"].profile.churn_risk > 0.75  # as of the churn crossing, 4 rhythms of silence


def test_the_same_history_gives_the_same_bytes(world: World) -> None:
    assert simulate(world, _lines(_history()), END).records == simulate(world, _lines(_history()), END).records


def test_every_scenario_is_visible_in_simulate_output(world: World) -> None:
    records = [orjson.loads(r) for r in simulate(world, _lines(_history()), END).records]
    scenarios = {r["scenario"] for r in records if "hit_id" in r}
    assert scenarios == {s for _, s, _ in KNOWN}
    cycle = next(r for r in records if r.get("occurrence") == f"protein:{(START + 40 * DAY).date()}")
    assert (cycle["evidence"]["source"], cycle["evidence"]["phrase"]) == ("chat", "蛋白粉快吃完了")


Replay = tuple[list[tuple[str, str, str]], dict[str, Any]]


def _replay(world: World, arrivals: list[tuple[datetime, Event]]) -> Replay:
    """Process events as they arrive (``now`` = arrival) and timers when due, like a worker;
    the population is fed back as the shell would. Returns the hits and each final standing."""
    states: dict[str, CustomerState] = {}
    found: list[tuple[str, str, str]] = []
    due: list[tuple[datetime, str, str]] = []
    population = world.population

    def apply(cid: str, inp: Event | TimerFired, now: datetime) -> None:
        nonlocal population
        outcome = process(states.get(cid) or CustomerState.new(cid), inp, now, replace(world, population=population))
        states[cid] = outcome.state
        population = population.observe(outcome.observations)
        found.extend((h.customer_id, h.scenario, h.occurrence) for h in outcome.hits)
        for timer in outcome.timers_set:
            heapq.heappush(due, (timer.due_at, cid, timer.id))

    def fire_until(moment: datetime) -> None:
        while due and due[0][0] <= moment:
            at, cid, timer_id = heapq.heappop(due)
            apply(cid, TimerFired(customer_id=cid, timer_id=timer_id, due_at=at), at)

    for arrival, event in sorted(arrivals, key=lambda a: a[0]):
        fire_until(arrival)
        apply(str(event.identity["member_id"]), event, arrival)
    fire_until(END)
    standing = {
        cid: (p.lifecycle, p.value_tier, p.churn_risk, p.order_log, p.purchases, sorted(s.timers.values(), key=str))
        for cid, s in states.items()
        for p in [s.profile]
    }
    return found, standing


def test_store_orders_uploaded_hours_late_give_the_same_hits(world: World) -> None:
    history = _history()
    late = [(e.time + (timedelta(hours=7) if e.type == "order.paid" else timedelta()), e) for e in history]
    assert _replay(world, late) == _replay(world, [(e.time, e) for e in history])
    assert set(_replay(world, late)[0]) == KNOWN


@pytest.mark.parametrize("member", ["A", "B", "C", "D", "E"])
def test_a_customers_events_arriving_at_once_in_reverse_end_in_the_same_standing(world: World, member: str) -> None:
    history = _history()
    mine = [e for e in history if e.id.startswith(f"{member}-")]
    batch = max(e.time for e in mine) + timedelta(hours=1)
    arrivals = [(batch + timedelta(seconds=len(mine) - i), e) for i, e in enumerate(mine)]  # newest first
    arrivals += [(e.time, e) for e in history if e not in mine]
    hits, standing = _replay(world, arrivals)
    on_time_hits, on_time_standing = _replay(world, [(e.time, e) for e in history])
    assert standing == on_time_standing
    assert len(hits) == len(set(hits)), "a moment fired twice"
    assert [h for h in hits if h[0] != member] == [h for h in on_time_hits if h[0] != member]


def test_the_population_learns_intervals_as_the_history_flows(world: World) -> None:
    observed = Population()
    state = CustomerState.new("B")
    for event in [e for e in _history() if e.id.startswith("B-")]:
        outcome = process(state, event, event.time, world)
        state, observed = outcome.state, observed.observe(outcome.observations)
    assert observed.count("interval:coffee") == 3
    assert observed.median("interval:*", 1) == pytest.approx(20, rel=0.02)
    assert observed.count("frequency") == 1  # one customer: each new total replaces the old one
    assert observed.quantile("monetary", 0.5, 1) == pytest.approx(240, rel=0.02)
