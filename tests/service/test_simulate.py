"""simulate(): the virtual clock only moves forward, and nothing after --until is replayed."""

from __future__ import annotations

import gc
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import orjson

from orchestrator.core import dedupe
from orchestrator.core.journey_spec import EventTrigger
from orchestrator.core.population import Observation
from orchestrator.service.simulate import _instant, simulate
from tests.builders import NOW, journey, make_world

CST = timezone(timedelta(hours=8))


def _line(id_: str, type_: str, at: str, data: dict[str, object]) -> bytes:
    identity = {"member_id": "X1", "wecom_external_id": "wm-x1"}
    return orjson.dumps({"id": id_, "type": type_, "time": at, "identity": identity, "data": data})


ORDER = {"order_id": "O1", "items": [{"sku": "PRO-900", "qty": 1}]}
LINES = [
    _line("e1", "order.paid", "2026-10-01T20:30:00+08:00", ORDER),
    _line("e2", "order.paid", "2026-10-20T20:30:00+08:00", {**ORDER, "order_id": "O2"}),
    _line("e3", "order.refunded", "2026-11-10T09:00:00+08:00", {"order_id": "O2"}),
]


def test_a_timer_moved_into_the_past_fires_now_not_back_in_time() -> None:
    # The refund on 11-10 brings the run-out back to 10-31 (due 10-26): a worker would fire it
    # on 11-10, when the run-out is ten days gone, so there is no moment to act on.
    sim = simulate(make_world(), LINES, until=datetime(2026, 11, 12, tzinfo=CST))
    assert [o.hits for o in sim.outcomes if o.hits] == []
    assert sim.actions == []
    assert sim.states["X1"].profile.last_event_at == datetime(2026, 11, 10, 9, 0, tzinfo=CST)


def test_events_after_until_are_not_replayed() -> None:
    sim = simulate(make_world(), LINES, until=datetime(2026, 10, 25, tzinfo=CST))
    assert sim.skipped == 1
    assert [i for i in ("e1", "e2", "e3") if dedupe.seen(sim.states["X1"], i)] == ["e1", "e2"]


def test_due_timers_fire_in_order_at_their_time() -> None:
    sim = simulate(make_world(), LINES[:1], until=datetime(2026, 10, 30, tzinfo=CST))
    [hit] = [h for o in sim.outcomes for h in o.hits]
    assert hit.at == datetime(2026, 10, 26, 20, 30, tzinfo=CST)
    [action] = sim.actions
    assert action.created_at == hit.at


def test_a_dry_run_collects_only_young_objects_and_restores_the_collector() -> None:
    # A dry run keeps every state: full collections would scan them all again and again.
    before = gc.get_threshold()
    during: list[tuple[int, int, int]] = []
    simulate(
        make_world(),
        LINES,
        until=datetime(2026, 11, 12, tzinfo=CST),
        progress=lambda *_: during.append(gc.get_threshold()),
    )
    assert during
    assert all(t[:2] == before[:2] and t[2] >= 2**31 - 1 for t in during)
    assert gc.get_threshold() == before


def test_the_timer_queue_orders_instants_whatever_their_zone() -> None:
    shanghai_ten = datetime(2026, 10, 1, 10, tzinfo=CST)
    assert _instant(shanghai_ten) == _instant(shanghai_ten.astimezone(UTC))
    assert _instant(shanghai_ten) < _instant(datetime(2026, 10, 1, 3, tzinfo=UTC))  # 11:00 in Shanghai
    assert _instant(shanghai_ten + timedelta(microseconds=1)) == _instant(shanghai_ten) + 1


def test_kept_hits_share_their_sets_of_field_names() -> None:
    # A year of history keeps ~100k outcomes: a set of names per hit cost ~150 MB (an outcome,
    # a struct, has none).
    lines = [
        orjson.dumps(
            {
                "id": f"e{n}",
                "type": "order.paid",
                "time": "2026-10-01T20:30:00+08:00",
                "identity": {"member_id": f"X{n}"},
                "data": {**ORDER, "order_id": f"O{n}"},
            }
        )
        for n in (1, 2)
    ]
    sim = simulate(make_world(), lines, until=datetime(2026, 10, 30, tzinfo=CST))
    first, second = [o for o in sim.outcomes if o.hits]
    assert first.hits[0].customer_id != second.hits[0].customer_id
    assert not hasattr(first, "__dict__")
    assert first.hits[0].__pydantic_fields_set__ is second.hits[0].__pydantic_fields_set__
    assert first.state.customer_id == "-"  # kept without the state (``states`` holds the last one)
    assert first.log == ()


def test_a_new_population_keeps_what_the_journeys_alone_decide() -> None:
    world = make_world(journey(id="a"), journey(id="b", trigger={"event": "order.paid"}))
    live = world.live(EventTrigger, NOW)
    observed = world.population.observe([Observation(key="frequency", value=2.0)])
    moved = world.with_population(observed)
    assert moved.population is observed
    assert world.population is not observed  # the world it came from is unchanged
    assert moved.live(EventTrigger, NOW) is live  # worked out once, not again for every order
    assert moved == replace(world, population=observed)
