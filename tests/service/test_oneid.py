"""OneID through both stages (identify, then the handler) with the memory store and graph."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import orjson
import pytest

from orchestrator.adapters.memory_store import MemoryStore
from orchestrator.bootstrap import load_world
from orchestrator.core import World, dedupe, parse_event
from orchestrator.core.identity import Identifier, IdentityRules, IdentityType
from orchestrator.service.memory_identity import MemoryIdentityGraph
from orchestrator.service.oneid import OneId
from orchestrator.service.simulate import simulate
from orchestrator.service.timers import pump_once
from orchestrator.service.topics import Topics
from orchestrator.settings import Settings
from tests.oneid_bus import NOW, Bus, event

REPO = Path(__file__).resolve().parents[2]
PHONE = "13800000001"
E164 = "+8613800000001"


@pytest.fixture(scope="module")
def world() -> World:
    settings = Settings(xo_journeys_dir=REPO / "journeys", xo_templates_dir=REPO / "templates", xo_contact_policy="off")
    return load_world(settings)[1]


@pytest.fixture(params=["two stages", "single pass"])
def bus(world: World, request: pytest.FixtureRequest) -> Bus:
    return Bus(world, MemoryStore(), MemoryIdentityGraph(), single_pass=request.param == "single pass")


def _order(id_: str, days_ago: float, **identity: str) -> bytes:
    data = {"order_id": f"O-{id_}", "amount": 199.0, "items": [{"sku": "PRO-900", "qty": 1}]}
    return event(id_, "order.paid", days_ago, data, **identity)


async def test_the_worked_example_a_wecom_line_reaches_the_members_purchase(bus: Bus) -> None:
    await bus.send(_order("store-1", 20, member_id="M1001", phone=PHONE))
    await bus.send(event("hello", "chat.message", 3, {"text": "你好"}, phone=PHONE, wecom_external_id="wmABC"))
    await bus.send(event("running-out", "chat.message", 0, {"text": "蛋白粉快吃完了"}, wecom_external_id="wmABC"))
    [reply] = [a for a in bus.actions() if a["journey"]["id"] == "replenish"]
    assert reply["customer_id"] == "M1001"
    assert reply["to"] == {"wecom_external_id": "wmABC"}
    assert "蛋白粉" in reply["content"]["text"]
    graph = bus.graph
    assert isinstance(graph, MemoryIdentityGraph)
    assert graph.owners == {
        "member_id:M1001": "M1001",
        f"phone:{E164}": "M1001",
        "wecom_external_id:wmabc".replace("wmabc", "wmABC"): "M1001",
    }
    store = bus.store
    assert isinstance(store, MemoryStore)
    assert set(store.states) == {"M1001"}  # one customer: no stranger was made for the WeCom id


async def test_the_reverse_order_merges_the_wecom_profile_into_the_member(bus: Bus) -> None:
    await bus.send(event("w-hello", "chat.message", 5, {"text": "你好，想了解蛋白粉"}, wecom_external_id="wmX"))
    await bus.send(_order("m-1", 4, member_id="M2002", phone=PHONE))
    await bus.send(event("link", "identity.linked", 1, {}, member_id="M2002", wecom_external_id="wmX"))
    store = bus.store
    assert isinstance(store, MemoryStore)
    retired = store.states["wecom_external_id:wmX"]
    assert retired.redirect_to == "M2002"
    survivor = store.states["M2002"]
    assert {"member_id:M2002", f"phone:{E164}", "wecom_external_id:wmX"} <= set(survivor.identifiers)
    assert all(dedupe.seen(survivor, i) for i in ("w-hello", "m-1", "link"))  # both customers': redeliveries dropped
    assert {o.order_id for o in survivor.profile.order_log} == {"O-m-1"}
    merged = [n for n in bus.on("t.identity") if n["what"] == "merged"]
    assert merged == [
        {"what": "merged", "customer_id": "M2002", "retired": "wecom_external_id:wmX", "at": merged[0]["at"]}
    ]
    # Later, the WeCom id alone reaches the member, and the journey acts on the member's order.
    await bus.send(event("running-out", "chat.message", 0, {"text": "蛋白粉快吃完了"}, wecom_external_id="wmX"))
    [reply] = [a for a in bus.actions() if a["journey"]["id"] == "replenish"]
    assert (reply["customer_id"], reply["to"]) == ("M2002", {"wecom_external_id": "wmX"})


async def test_a_shared_phone_never_fuses_two_members(bus: Bus) -> None:
    await bus.send(_order("a", 3, member_id="M1", phone=PHONE))
    await bus.send(_order("b", 2, member_id="M2", phone=PHONE))
    store = bus.store
    assert isinstance(store, MemoryStore)
    assert [store.states[m].redirect_to for m in ("M1", "M2")] == [None, None]
    assert f"phone:{E164}" not in store.states["M2"].identifiers
    [refused] = bus.on("t.identity")
    assert refused["what"] == "link_refused"
    assert (refused["customer_id"], refused["identifier"], refused["partner"]) == ("M2", f"phone:{E164}", "M1")
    assert "at most 1 member_id" in refused["reason"]
    assert {o.order_id for o in store.states["M2"].profile.order_log} == {"O-b"}


def test_simulate_shows_the_same_merges_and_refused_links(world: World) -> None:
    lines = [
        event("w-hello", "chat.message", 5, {"text": "你好"}, wecom_external_id="wmX"),
        _order("m-1", 4, member_id="M2002", phone=PHONE),
        event("link", "identity.linked", 1, {}, member_id="M2002", wecom_external_id="wmX"),
        _order("other", 0.5, member_id="M3003", phone=PHONE),  # a family phone: refused
        event("running-out", "chat.message", 0, {"text": "蛋白粉快吃完了"}, wecom_external_id="wmX"),
    ]
    sim = simulate(world, lines)
    notes = [orjson.loads(r) for r in sim.records if b'"what"' in r]
    assert [n["what"] for n in notes] == ["retired", "merged", "link_refused"]
    assert (notes[2]["customer_id"], notes[2]["identifier"]) == ("M3003", f"phone:{E164}")
    assert sim.states["wecom_external_id:wmX"].redirect_to == "M2002"
    [reply] = [a for a in sim.actions if a.journey.id == "replenish"]
    assert (reply.customer_id, reply.to) == ("M2002", {"wecom_external_id": "wmX"})


async def test_the_worker_and_simulate_agree_on_the_merged_customer(world: World, bus: Bus) -> None:
    lines = [
        event("w-hello", "chat.message", 5, {"text": "你好"}, wecom_external_id="wmX"),
        _order("m-1", 4, member_id="M2002", phone=PHONE),
        event("link", "identity.linked", 1, {}, member_id="M2002", wecom_external_id="wmX"),
    ]
    for line in lines:
        await bus.send(line)
    sim = simulate(world, lines)
    store = bus.store
    assert isinstance(store, MemoryStore)
    for cid in ("M2002", "wecom_external_id:wmX"):
        live, dry = store.states[cid], sim.states[cid]
        assert (set(live.identifiers), live.redirect_to) == (set(dry.identifiers), dry.redirect_to)
        assert live.profile == dry.profile


async def test_a_blocked_identifier_never_links_and_never_routes(bus: Bus) -> None:
    await bus.send(_order("a", 3, member_id="M1", phone="400-820-8820"))
    await bus.send(_order("b", 2, member_id="M2", phone="4008208820"))
    store = bus.store
    assert isinstance(store, MemoryStore)
    assert [store.states[m].identifiers for m in ("M1", "M2")] == [("member_id:M1",), ("member_id:M2",)]
    refused = bus.on("t.identity")
    assert [(n["customer_id"], n["reason"]) for n in refused] == [
        ("M1", "phone:+864008208820 is blocked from linking"),
        ("M2", "phone:+864008208820 is blocked from linking"),
    ]
    await bus.send(event("only-blocked", "chat.message", 1, {"text": "hi"}, phone="4008208820"))
    [dead] = bus.on("t.events.dlq")
    assert "only blocked identifiers" in dead["reason"]


async def test_an_operator_declared_type_routes_and_links(bus: Bus) -> None:
    await bus.send(event("dy", "chat.message", 2, {"text": "你好"}, douyin_openid=" DY-1 "))
    await bus.send(event("dy-link", "identity.linked", 1, {"identifiers": {"douyin_openid": "DY-1"}}, member_id="M9"))
    store = bus.store
    assert isinstance(store, MemoryStore)
    assert store.states["douyin_openid:DY-1"].redirect_to == "M9"
    assert set(store.states["M9"].identifiers) == {"member_id:M9", "douyin_openid:DY-1"}


async def test_events_without_a_usable_identifier_go_to_the_dlq_naming_why(bus: Bus) -> None:
    await bus.send(
        event("none", "chat.message", 1, {"text": "hi"}, qq="12345"),
        event("bad-phone", "chat.message", 1, {"text": "hi"}, phone="12"),
        event("bad-phone-and-member", "order.paid", 1, {"order_id": "O-x", "items": []}, member_id="M8", phone="12"),
    )
    reasons = [d["reason"] for d in bus.on("t.events.dlq")]
    assert reasons == [
        "invalid event: identity: no identifier of a known type (douyin_openid, email, member_id, openid, phone, "
        "unionid, wecom_external_id)",
        "invalid event: identity.phone: '12' is not a phone number (E.164 or a mainland mobile)",
    ]
    store = bus.store
    assert isinstance(store, MemoryStore)
    assert store.states["M8"].identifiers == ("member_id:M8",)  # the order counted; the bad phone was refused
    [refused] = bus.on("t.identity")
    assert refused["identifier"] == "phone:12"


async def test_the_retired_customers_timers_fire_on_the_survivor(bus: Bus) -> None:
    await bus.send(_order("p-1", 20, phone="13800000009"))  # a phone-only buyer: a cycle timer is set
    await bus.send(event("u-1", "chat.message", 2, {"text": "你好"}, unionid="un-9"))
    await bus.send(event("link", "identity.linked", 1, {}, unionid="un-9", phone="13800000009"))
    store = bus.store
    assert isinstance(store, MemoryStore)
    retired, survivor = "phone:+8613800000009", "unionid:un-9"  # unionid outranks phone
    assert store.states[retired].redirect_to == survivor
    [cycle] = [t for t in store.states[survivor].timers if t.startswith("cycle")]
    assert (survivor, cycle) in store.timers[0]  # re-indexed on the survivor's partition
    bus.clock.at = NOW + timedelta(days=6)
    due = {(cid, t) for (cid, t), ms in store.timers[0].items() if ms <= bus.clock.at.timestamp() * 1000}
    assert {(retired, cycle), (survivor, cycle)} <= due
    assert len(await pump_once(store, bus, bus.clock, bus.topics, [0])) == len(due)
    await bus.drain()
    hits = [h for h in bus.on("t.scenarios") if h["scenario"] == "consumption_cycle_ending"]
    assert [h["customer_id"] for h in hits] == [survivor]
    left = {key for key in due if key in store.timers[0]}
    assert {key for key in left if key[0] == retired} == set()  # the retired one's entries dropped, not fired


async def test_a_new_customers_events_in_one_batch_make_one_customer(bus: Bus) -> None:
    await bus.send(  # one identify batch: nothing is claimed yet when the second event is routed
        _order("s1", 20, member_id="M1001", phone=PHONE),
        event("w1", "chat.message", 3, {"text": "你好"}, phone=PHONE, wecom_external_id="wmA"),
    )
    store = bus.store
    assert isinstance(store, MemoryStore)
    assert set(store.states) == {"M1001"}
    assert set(store.states["M1001"].identifiers) == {"member_id:M1001", f"phone:{E164}", "wecom_external_id:wmA"}
    assert not bus.on("t.identity")  # no stranger, so no merge


def test_identifiers_are_read_by_the_rules_of_the_world_in_use(world: World) -> None:
    """The process stage remembers normalised identifiers; a reloaded world's rules apply at once."""
    oneid = OneId(world, MemoryIdentityGraph(), Topics("xo"))
    line = parse_event(orjson.loads(event("e1", "chat.message", 0, {"text": "hi"}, email=" Wang@Example.COM ")))
    assert oneid._identifiers_of(line)[0] == [Identifier("email", "wang@example.com")]  # noqa: SLF001
    assert oneid._identifiers_of(line)[0] == [Identifier("email", "wang@example.com")]  # noqa: SLF001 - remembered
    oneid.world = replace(world, identity=IdentityRules(types={"email": IdentityType(priority=50)}))  # trim only
    assert oneid._identifiers_of(line)[0] == [Identifier("email", "Wang@Example.COM")]  # noqa: SLF001
    oneid.world = world
    assert oneid._identifiers_of(line)[0] == [Identifier("email", "wang@example.com")]  # noqa: SLF001
    bad = parse_event(orjson.loads(event("e2", "chat.message", 0, {"text": "hi"}, email="a\x01b")))
    found, [refusal] = oneid._identifiers_of(bad)  # noqa: SLF001
    assert found == []
    assert "control characters" in refusal.reason
