"""The IdentityGraph contract, passed by the in-memory graph and by the Redis graph."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from orchestrator.adapters.redis_identity import RedisIdentityGraph
from orchestrator.adapters.redis_ops import Client
from orchestrator.service.memory_identity import MemoryIdentityGraph
from orchestrator.service.ports import IdentityGraph

PHONE = "phone:+8613800000000"
WECOM = "wecom_external_id:wm1"


class IdentityGraphContract:
    @pytest.fixture
    def graph(self) -> IdentityGraph:
        raise NotImplementedError

    async def test_unknown_identifiers_resolve_to_nothing(self, graph: IdentityGraph) -> None:
        assert await graph.resolve([PHONE, WECOM]) == {}
        assert await graph.resolve([]) == {}

    async def test_the_first_claim_wins_and_every_claim_learns_the_owner(self, graph: IdentityGraph) -> None:
        assert await graph.claim([(PHONE, "M1"), (WECOM, "M1")]) == {PHONE: "M1", WECOM: "M1"}
        assert await graph.claim([(PHONE, "M2")]) == {PHONE: "M1"}
        assert await graph.resolve([PHONE, WECOM, "openid:o1"]) == {PHONE: "M1", WECOM: "M1"}

    async def test_repoint_moves_only_keys_still_owned_by_the_retired_id(self, graph: IdentityGraph) -> None:
        await graph.claim([(PHONE, "W"), (WECOM, "W")])
        await graph.repoint([(PHONE, "W", "M1"), (WECOM, "X", "M1")])
        assert await graph.resolve([PHONE, WECOM]) == {PHONE: "M1", WECOM: "W"}
        await graph.repoint([(PHONE, "W", "M9")])  # redelivered after the move: changes nothing
        assert await graph.resolve([PHONE]) == {PHONE: "M1"}

    async def test_drop_removes_only_the_owners_keys(self, graph: IdentityGraph) -> None:
        await graph.claim([(PHONE, "M1"), (WECOM, "M2")])
        await graph.drop([(PHONE, "M1"), (WECOM, "M1")])
        assert await graph.resolve([PHONE, WECOM]) == {WECOM: "M2"}


class TestMemoryIdentityGraph(IdentityGraphContract):
    @pytest.fixture
    def graph(self) -> IdentityGraph:
        return MemoryIdentityGraph()


@pytest.mark.integration
class TestRedisIdentityGraph(IdentityGraphContract):
    @pytest.fixture
    def graph(self, store_client: Client, prefix: str) -> IdentityGraph:
        return RedisIdentityGraph(store_client, prefix=prefix)  # a single Redis, then a Redis Cluster

    async def test_each_identifier_is_its_own_slot(self, redis_client: Redis, prefix: str) -> None:
        await RedisIdentityGraph(redis_client, prefix=prefix).claim([(PHONE, "M1")])
        assert [k.decode() for k in await redis_client.keys(f"{prefix}:*")] == [f"{prefix}:id:{{{PHONE}}}"]
