"""The merge protocol under crashes: both stages with real Redis (state store and identity graph).

A scenario that links a WeCom-only customer to a member (request → retire → absorb, with
claims, moves and redirects on the way) is run once cleanly to count the calls it makes
to Redis and to the broker. Then, for every one of those calls, it is run again with the
process dying just before that call and again just after it; the unacked batch is
redelivered to a healthy worker, as Kafka would after a restart. Whatever the crash
point, the end is the clean run's: the same graph, the same redirect, the same
identifiers, and the same actions (a re-produced action is byte-identical).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson
import pytest
from redis.asyncio import Redis

from orchestrator.adapters.redis_identity import RedisIdentityGraph
from orchestrator.adapters.redis_store import RedisStore
from orchestrator.bootstrap import load_world
from orchestrator.core import World
from orchestrator.service.ports import OutRecord
from orchestrator.service.topics import Topics
from orchestrator.settings import Settings
from tests.oneid_bus import Bus, event

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
PHONE = "13800000007"
GRAPH_CALLS = ("resolve", "claim", "repoint", "drop")
STORE_CALLS = ("load", "commit", "settle")


class Crash(Exception):
    """Stands for the process dying at this point."""


class Calls:
    """Counts every call to Redis or the broker; raises Crash once at call ``at`` (before or after it)."""

    def __init__(self, at: int = -1, after: bool = False) -> None:
        self.count = 0
        self.at = at
        self.after = after
        self.log: list[str] = []
        self.crashed = 0

    async def call(self, name: str, fn: Any, *args: Any) -> Any:
        index = self.count
        self.count += 1
        self.log.append(name)
        if index == self.at and not self.after:
            self.at, self.crashed = -1, self.crashed + 1
            raise Crash(name)
        result = await fn(*args)
        if index == self.at:
            self.at, self.crashed = -1, self.crashed + 1
            raise Crash(name)
        return result


class Wrapped:
    def __init__(self, inner: Any, calls: Calls, names: Sequence[str]) -> None:
        self._inner = inner
        self._calls = calls
        self._names = names

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if name not in self._names:
            return attr

        async def counted(*args: Any) -> Any:
            return await self._calls.call(name, attr, *args)

        return counted


class CrashingBus(Bus):
    calls: Calls

    async def publish(self, records: Sequence[OutRecord]) -> None:
        await self.calls.call("publish", super().publish, records)


SCENARIO = [
    event("w-hello", "chat.message", 5, {"text": "你好，想了解蛋白粉"}, wecom_external_id="wmX"),
    event(
        "m-1",
        "order.paid",
        4,
        {"order_id": "O-1", "amount": 199.0, "items": [{"sku": "PRO-900", "qty": 1}]},
        member_id="M7",
        phone=PHONE,
    ),
    event("link", "identity.linked", 1, {}, member_id="M7", wecom_external_id="wmX"),
    event("running-out", "chat.message", 0, {"text": "蛋白粉快吃完了"}, wecom_external_id="wmX"),
]


@pytest.fixture(scope="module")
def world() -> World:
    settings = Settings(xo_journeys_dir=REPO / "journeys", xo_templates_dir=REPO / "templates", xo_contact_policy="off")
    return load_world(settings)[1]


async def _run(world: World, client: Redis, prefix: str, calls: Calls) -> tuple[CrashingBus, dict[str, Any]]:
    store = RedisStore(client, prefix=prefix)
    graph = RedisIdentityGraph(client, prefix=prefix)
    bus = CrashingBus(world, Wrapped(store, calls, STORE_CALLS), Wrapped(graph, calls, GRAPH_CALLS), Topics(prefix))
    bus.calls = calls
    for raw in SCENARIO:
        bus.queue.append(OutRecord(bus.topics.events, "", raw))
        while True:
            try:
                await bus.drain()
                break
            except Crash:
                continue  # the worker restarts; the unacked batch comes again
    return bus, await _end(bus, client, prefix, store)


async def _end(bus: Bus, client: Redis, prefix: str, store: RedisStore) -> dict[str, Any]:
    owners = {}
    async for key in client.scan_iter(f"{prefix}:id:*"):
        owners[key.decode()] = (await client.get(key)).decode()
    customers = sorted(set(owners.values()) | {"wecom_external_id:wmX"})
    loaded = await store.load(customers)
    states = {
        cid: (got.state.redirect_to, sorted(got.state.identifiers), sorted(got.outbox))
        for cid, got in loaded.items()
        if got.state is not None
    }
    copies: dict[str, set[bytes]] = defaultdict(set)
    for record in bus.out:
        if record.topic.startswith(f"{prefix}.actions."):
            copies[orjson.loads(record.value)["action_id"]].add(record.value)
    return {"owners": owners, "states": states, "actions": dict(copies)}


async def test_the_clean_run_merges_and_replies(world: World, redis_client: Redis, prefix: str) -> None:
    _, end = await _run(world, redis_client, prefix, Calls())
    assert set(end["owners"].values()) == {"M7"}
    assert end["states"]["wecom_external_id:wmX"][0] == "M7"
    assert end["states"]["M7"][2] == []  # nothing left pending
    [replenish] = [a for a in end["actions"] if a.startswith("replenish:")]
    assert "蛋白粉" in orjson.loads(next(iter(end["actions"][replenish])))["content"]["text"]


async def test_a_crash_before_or_after_any_call_ends_as_the_clean_run(world: World, redis_client: Redis) -> None:
    clean_calls = Calls()
    _, clean = await _run(world, redis_client, "clean", clean_calls)
    assert {"claim", "repoint", "commit", "publish", "settle"} <= set(clean_calls.log)
    for at in range(clean_calls.count):
        for after in (False, True):
            prefix = f"crash{at}{'a' if after else 'b'}"
            calls = Calls(at, after)
            _, end = await _run(world, redis_client, prefix, calls)
            assert calls.crashed == 1
            where = f"crash {'after' if after else 'before'} call {at} ({clean_calls.log[at]})"
            assert end["owners"] == {k.replace("clean", prefix, 1): v for k, v in clean["owners"].items()}, where
            assert end["states"] == clean["states"], where
            assert set(end["actions"]) == set(clean["actions"]), where
            assert all(len(copies) == 1 for copies in end["actions"].values()), where  # re-produced: identical
