"""The Redis round-trip benchmark on a real Redis: every row runs, each state loads back as
stored, and the store's part size is what it was afterwards."""

from __future__ import annotations

import uuid

import pytest

from bench import redis_overlap
from orchestrator.adapters import redis_ops
from orchestrator.adapters.redis_ops import connect
from orchestrator.adapters.redis_store import RedisStore

pytestmark = pytest.mark.integration


async def test_every_row_runs_and_the_part_size_is_restored(redis_url: str) -> None:
    found = redis_overlap.states(12, 30)
    parts = redis_ops.SEND_EVERY
    times = await redis_overlap.measure(redis_url, found, rounds=2)
    assert set(times) == {"commit, one write", "commit, in parts", "load, unpacked after", "load, unpacked as read"}
    assert all(len(pairs) == 2 and all(wall > 0 for wall, _ in pairs) for pairs in times.values())
    assert parts == redis_ops.SEND_EVERY
    client = connect(redis_url, socket_timeout=5)
    try:
        store = RedisStore(client, prefix=f"t-{uuid.uuid4().hex[:8]}")
        await redis_overlap.commit_all(store, found)
        ids = [s.customer_id for s in found]
        after = await redis_overlap.unpacked_after(store, ids)
        assert after == await store.load(ids)  # both ways of reading give the same Loaded
        assert [after[cid].state for cid in ids] == found
    finally:
        await client.aclose()
