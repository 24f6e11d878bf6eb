"""The Redis store reads every stored form: older ones upgrade, a newer one is retried, never overwritten."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from redis.asyncio import Redis

from orchestrator.adapters.redis_store import RedisStore
from orchestrator.core.packing import unpack
from orchestrator.core.state import STATE_SCHEMA
from orchestrator.errors import TransientError
from orchestrator.service.ports import Commit

RELEASE_0_1_0 = Path(__file__).resolve().parents[1] / "fixtures" / "states" / "release-0.1.0.jsonl"
pytestmark = pytest.mark.integration


async def test_a_state_written_by_release_0_1_0_loads_and_commits(redis_client: Redis, prefix: str) -> None:
    raw = RELEASE_0_1_0.read_bytes().splitlines()[0]
    old = json.loads(raw)
    cid = old["customer_id"]
    await redis_client.hset(f"{prefix}:{{{cid}}}:state", mapping={"v": old["version"], "s": raw})
    store = RedisStore(redis_client, prefix=prefix)
    state = (await store.load([cid]))[cid].state
    assert state is not None
    assert state.schema_version == STATE_SCHEMA
    assert state.version == old["version"]
    nxt = state.model_copy(update={"version": state.version + 1})
    assert await store.commit([Commit(cid, state.version, nxt, {})]) == []
    stored = json.loads(unpack(await redis_client.hget(f"{prefix}:{{{cid}}}:state", "s")))
    assert stored["schema_version"] == STATE_SCHEMA


async def test_a_newer_form_is_retried_and_left_as_it_is(redis_client: Redis, prefix: str) -> None:
    newer = json.dumps({"schema_version": STATE_SCHEMA + 1, "customer_id": "C1", "version": 7, "new": []})
    await redis_client.hset(f"{prefix}:{{C1}}:state", mapping={"v": 7, "s": newer})
    store = RedisStore(redis_client, prefix=prefix)
    with pytest.raises(TransientError, match="state of C1: written in form"):
        await store.load(["C1"])
    assert (await redis_client.hget(f"{prefix}:{{C1}}:state", "s")).decode() == newer
