"""The harness's Redis parts on a real Redis: copying the mature template, memory by kind, dropping a run."""

from __future__ import annotations

import uuid

import pytest
from redis import Redis

from bench.perf.mature import clone, state_sizes
from bench.perf.redis_stats import drop_prefix, prefix_memory
from orchestrator.core import packing

pytestmark = pytest.mark.integration


def _fill(client: Redis, prefix: str) -> None:
    for n in range(20):
        client.hset(f"{prefix}:{{C{n}}}:state", "s", "x" * (100 + 50 * n))
    client.hset(f"{prefix}:{{C3}}:outbox", "a1", "{}")
    client.zadd(f"{prefix}:timers:{{p0:1}}", {"C1\x1fcycle": 1})
    client.set(f"{prefix}:id:phone:+8613900000000", "C1")
    client.set(f"other-{prefix}:{{C1}}:state", "not ours")


def test_clone_copies_every_key_of_the_template_under_the_new_prefix(redis_url: str) -> None:
    client = Redis.from_url(redis_url)
    source, target = f"t-{uuid.uuid4().hex[:8]}", f"r-{uuid.uuid4().hex[:8]}"
    _fill(client, source)
    assert clone(redis_url, source, target) == 23
    assert client.hget(f"{target}:{{C7}}:state", "s") == b"x" * 450
    assert client.zscore(f"{target}:timers:{{p0:1}}", "C1\x1fcycle") == 1
    assert client.get(f"{target}:id:phone:+8613900000000") == b"C1"
    assert client.exists(f"other-{target}:{{C1}}:state") == 0
    client.hset(f"{target}:{{C19}}:state", "s", packing.pack(b"y" * 5_000))  # a packed state: its JSON counts
    sizes = state_sizes(client, target, [f"C{n}" for n in range(20)])
    assert (sizes.p10, sizes.max) == (200, 5_000)
    assert sizes.median == 575
    client.close()


def test_prefix_memory_sums_every_key_by_kind_and_drop_removes_only_the_prefix(redis_url: str) -> None:
    client = Redis.from_url(redis_url)
    prefix = f"m-{uuid.uuid4().hex[:8]}"
    _fill(client, prefix)
    memory = prefix_memory(client, prefix, customers=20)
    assert memory["keys"] == 23
    assert memory["keys_by_kind"] == {"state": 20, "outbox": 1, "timers": 1, "id": 1}
    assert memory["bytes_per_customer"] == round(memory["bytes_total"] / 20)
    assert memory["bytes_by_kind"]["state"] > memory["bytes_by_kind"]["outbox"] > 0
    assert memory["state_keys_sampled"] == 20
    assert drop_prefix(client, prefix) == 23
    assert list(client.scan_iter(match=f"{prefix}:*")) == []
    assert client.get(f"other-{prefix}:{{C1}}:state") == b"not ours"
    client.close()
