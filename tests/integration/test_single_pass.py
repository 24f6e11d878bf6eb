"""The single pass on the real broker and Redis: a customer's records arriving both ways.

Records keyed by their customer's canonical id, on its home partition, are processed where
they land; records keyed by another identifier (a WeCom id the graph maps to a member, a
retired id) or on another partition are re-keyed to the by-customer topic and processed
when they come back. Either way they make one customer, and OneID's links and merges hold.
Every test runs on a single Redis and on a Redis Cluster (the ``store_client`` fixture).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from orchestrator.adapters.redis_ops import Client
from orchestrator.service.single_pass import Done
from tests.integration.single_pass_env import (
    CHANNEL,
    NOW,
    PARTITIONS,
    Env,
    event,
    home,
    read_to_marker,
    single_pass_env,
)

pytestmark = pytest.mark.integration
PROTEIN = {"order_id": "O1", "amount": 199.0, "items": [{"sku": "PRO-900", "qty": 1}]}


@pytest.fixture
async def env(kafka_bootstrap: str, store_client: Client, prefix: str) -> AsyncIterator[Env]:
    async for made in single_pass_env(kafka_bootstrap, store_client, prefix):
        yield made


def _count(results: list[Done], what: str) -> int:
    return sum(int(getattr(d, what)) for d in results)


async def test_a_customers_records_arrive_both_ways_and_make_one_customer(env: Env, kafka_bootstrap: str) -> None:
    single = env.single_pass()
    # Keyed by the member id it carries: canonical already, processed where it lands; claims wm1.
    await env.send(
        "M1", event("e1", "customer.registered", 40, {"name": "王女士"}, member_id="M1", wecom_external_id="wm1")
    )
    first = await env.run(single, lambda got: _count(got, "here") == 1)
    assert _count(first, "rekeyed") == 0
    # A WeCom line keyed by the WeCom id (the graph maps it to M1), an order keyed M1 on its home
    # partition, and a view keyed M1 but written to another partition (a source with its own partitioner).
    await env.send("wecom_external_id:wm1", event("e2", "chat.message", 30, {"text": "你好"}, wecom_external_id="wm1"))
    await env.send("M1", event("e3", "order.paid", 27, PROTEIN, member_id="M1"))
    await env.send(
        "M1", event("e4", "product.viewed", 26, {"sku": "PRO-900"}, member_id="M1"), (home("M1") + 1) % PARTITIONS
    )

    async def seen_all() -> bool:
        state = (await env.store.load(["M1"]))["M1"].state
        return state is not None and {"e1", "e2", "e3", "e4"} <= set(state.seen)

    later: list[Done] = []
    while not await seen_all():
        later += await env.run(single, lambda got: len(got) >= 1)
    assert _count(later, "here") == 1  # e3
    assert _count(later, "rekeyed") == 2  # e2 by its key, e4 by its partition
    loaded = await env.store.load(["M1", "wecom_external_id:wm1"])
    assert loaded["wecom_external_id:wm1"].state is None  # never a customer of its own
    state = loaded["M1"].state
    assert state is not None
    assert "wecom_external_id:wm1" in state.identifiers
    # The order's cycle timer is due now: the pass that owns M1's partition fires it in-process, once.
    while (await env.store.load(["M1"]))["M1"].state.timers:  # type: ignore[union-attr]
        await env.run(single, lambda got: len(got) >= 1)
    actions = await read_to_marker(env, kafka_bootstrap, env.topics.actions(CHANNEL))
    assert [a["customer_id"] for a in actions] == ["M1"]
    assert actions[0]["to"] == {"wecom_external_id": "wm1"}
    later_ms = int(NOW.timestamp() * 1000) + 10**9
    assert all(r.timer_id != "cycle:protein" for r in await env.store.due_timers(range(PARTITIONS), later_ms, 10))


async def test_after_a_merge_the_retired_id_is_rekeyed_to_the_survivor(env: Env, kafka_bootstrap: str) -> None:
    single = env.single_pass()
    # A WeCom-only prospect: its own canonical id, processed where it lands.
    await env.send("wecom_external_id:wmB", event("p1", "chat.message", 20, {"text": "在吗"}, wecom_external_id="wmB"))
    await env.run(single, lambda got: _count(got, "here") == 1)
    # The member links the WeCom id: a claim lost to the prospect, a merge (request, retire, absorb)
    # whose steps travel through the by-customer topic.
    linked = event("l1", "identity.linked", 10, member_id="M2", wecom_external_id="wmB")
    await env.send("M2", linked)

    async def merged() -> bool:
        loaded = await env.store.load(["wecom_external_id:wmB", "M2"])
        retired, survivor = loaded["wecom_external_id:wmB"].state, loaded["M2"].state
        return bool(retired and retired.redirect_to == "M2" and survivor and "p1" in survivor.seen)

    while not await merged():
        await env.run(single, lambda got: len(got) >= 1)
    # Later WeCom lines still keyed by the retired id: the graph maps it to M2, re-keyed there.
    await env.send("wecom_external_id:wmB", event("p2", "chat.message", 1, {"text": "还在吗"}, wecom_external_id="wmB"))
    results: list[Done] = []

    async def reached() -> bool:
        state = (await env.store.load(["M2"]))["M2"].state
        return state is not None and "p2" in state.seen

    while not await reached():
        results += await env.run(single, lambda got: len(got) >= 1)
    assert _count(results, "rekeyed") == 1
    retired = (await env.store.load(["wecom_external_id:wmB"]))["wecom_external_id:wmB"].state
    assert retired is not None
    assert "p2" not in retired.seen  # never processed by the retired customer, nor forwarded by it
    notes = await read_to_marker(env, kafka_bootstrap, env.topics.identity)
    assert [n["what"] for n in notes] == ["retired", "merged"]
