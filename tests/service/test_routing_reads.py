"""The routing reads only the graph keys that decide (identify.needed), and routes as a read of all would."""

from __future__ import annotations

import time

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.core.identity import IdentityRules, identifiers
from orchestrator.service.handler import InRecord
from orchestrator.service.identify import owner_of, sort
from orchestrator.service.memory_identity import MemoryIdentityGraph
from orchestrator.service.topics import Topics

RULES = IdentityRules()
POOL = {"member_id": ["M1", "M2"], "phone": ["13800000001", "13800000002"], "wecom_external_id": ["wa", "wb"]}
identity = st.dictionaries(st.sampled_from(sorted(POOL)), st.integers(0, 1), min_size=1, max_size=3).map(
    lambda picks: {kind: POOL[kind][n] for kind, n in picks.items()}
)
keys = [f"{k}:{v if k != 'phone' else '+86' + v}" for k, vs in POOL.items() for v in vs]
graph_of = st.dictionaries(st.sampled_from(keys), st.sampled_from(["M1", "M2", "phone:+8613800000001", "X"]))


class CountingGraph(MemoryIdentityGraph):
    def __init__(self, owners: dict[str, str]) -> None:
        super().__init__()
        self.owners = dict(owners)
        self.read: list[str] = []

    async def resolve(self, keys: list[str]) -> dict[str, str]:  # type: ignore[override]
        self.read += keys
        return await super().resolve(keys)


def _reference(batch: list[dict[str, str]], graph: dict[str, str]) -> list[str]:
    """Routing with every identifier of the batch read (the rule before ``needed``)."""
    owners = dict(graph)
    routes = []
    for ident in batch:
        found = identifiers(ident, RULES)
        cid = owner_of(found, owners)
        for i in found:
            owners.setdefault(i.key, cid)
        routes.append(cid)
    return routes


@given(batch=st.lists(identity, min_size=1, max_size=8), owners=graph_of)
@settings(max_examples=300, deadline=None)
async def test_routing_reads_fewer_keys_and_routes_the_same(
    batch: list[dict[str, str]], owners: dict[str, str]
) -> None:
    topics = Topics("t")
    records = [
        InRecord(
            0,
            n,
            None,
            orjson.dumps({"id": f"e{n}", "type": "x", "time": "2026-01-01T00:00:00Z", "identity": i}),
            time.monotonic(),
        )
        for n, i in enumerate(batch)
    ]
    graph = CountingGraph(owners)
    routed = await sort(records, topics, graph, RULES)
    assert [r.key for r in routed.out] == _reference(batch, owners)
    member_first = sum(1 for i in batch if "member_id" in i)
    assert len(graph.read) <= len({k for i in batch for k in (x.key for x in identifiers(i, RULES))})
    if member_first == len(batch):  # every event led by a member id: one key each, at most
        assert len(graph.read) <= len({i["member_id"] for i in batch})
