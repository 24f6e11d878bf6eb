"""The Redis store writes states packed (core/packing.py), on one Redis and on a Cluster; plain
JSON written by earlier releases loads and is packed at its next commit; what does not unpack
quarantines its customer, and a newer release's codec is retried, never overwritten."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.adapters.redis_ops import Client
from orchestrator.adapters.redis_store import RedisStore
from orchestrator.bootstrap import redis_store
from orchestrator.core import CustomerState
from orchestrator.core.migrations import dump_state, load_state
from orchestrator.core.packing import ZSTD_1, is_packed
from orchestrator.errors import TransientError
from orchestrator.service.ports import Commit
from orchestrator.settings import Settings

FORM_4 = Path(__file__).resolve().parents[1] / "fixtures" / "states" / "form-4.jsonl"
pytestmark = pytest.mark.integration


def _state() -> CustomerState:
    """A customer with a history (the example events): orders, timers, send log."""
    return max((load_state(raw) for raw in FORM_4.read_bytes().splitlines()), key=lambda s: len(dump_state(s)))


async def _stored(client: Client, store: RedisStore, cid: str) -> bytes:
    raw = await client.hget(store.state_key(cid), "s")
    assert isinstance(raw, bytes)
    return raw


async def test_a_commit_writes_the_state_packed(store_client: Client, prefix: str) -> None:
    store = RedisStore(store_client, prefix=prefix)
    state = _state()
    cid = state.customer_id
    assert await store.commit([Commit(cid, 0, state, {})]) == []
    raw = await _stored(store_client, store, cid)
    assert raw[0] == ZSTD_1
    assert len(raw) * 4 < len(dump_state(state).encode())
    assert (await store.load([cid]))[cid].state == state


async def test_plain_json_loads_and_is_packed_at_the_next_commit(store_client: Client, prefix: str) -> None:
    store = RedisStore(store_client, prefix=prefix)
    state = _state()
    cid = state.customer_id
    await store_client.hset(store.state_key(cid), mapping={"v": state.version, "s": dump_state(state)})
    loaded = (await store.load([cid]))[cid].state
    assert loaded == state
    nxt = state.model_copy(update={"version": state.version + 1})
    assert await store.commit([Commit(cid, state.version, nxt, {})]) == []
    assert is_packed(await _stored(store_client, store, cid))
    assert (await store.load([cid]))[cid].state == nxt


async def test_unpacked_writing_keeps_plain_json_for_older_readers(store_client: Client, prefix: str) -> None:
    """``XO_PACK_STATES=false`` during a rolling upgrade from a release that reads JSON only."""
    store = RedisStore(store_client, prefix=prefix, packed=False)
    state = _state()
    assert await store.commit([Commit(state.customer_id, 0, state, {})]) == []
    raw = await _stored(store_client, store, state.customer_id)
    assert raw == dump_state(state).encode()
    assert (await RedisStore(store_client, prefix=prefix).load([state.customer_id]))[state.customer_id].state == state


async def test_bytes_that_do_not_unpack_quarantine_the_customer(store_client: Client, prefix: str) -> None:
    store = RedisStore(store_client, prefix=prefix)
    state = _state()
    cid = state.customer_id
    assert await store.commit([Commit(cid, 0, state, {})]) == []
    raw = await _stored(store_client, store, cid)
    await store_client.hset(store.state_key(cid), "s", raw[:-5])
    loaded = (await store.load([cid]))[cid]
    assert loaded.state is None
    assert loaded.unloadable is not None
    assert loaded.unloadable.startswith(f"state of {cid}: packed bytes do not unpack (codec 1: ")
    assert await _stored(store_client, store, cid) == raw[:-5]


async def test_a_newer_codec_is_retried_and_left_as_it_is(store_client: Client, prefix: str) -> None:
    store = RedisStore(store_client, prefix=prefix)
    newer = b"\x02" + b"whatever a newer release packs"
    await store_client.hset(store.state_key("C1"), mapping={"v": 7, "s": newer})
    with pytest.raises(TransientError, match="state of C1: packed with codec 2"):
        await store.load(["C1"])
    assert await _stored(store_client, store, "C1") == newer


@pytest.mark.parametrize(("setting", "packed"), [("false", False), ("true", True), (None, True)])
async def test_the_worker_store_packs_as_xo_pack_states_says(
    redis_url: str, prefix: str, monkeypatch: pytest.MonkeyPatch, setting: str | None, packed: bool
) -> None:
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "localhost:9")  # required, never contacted here
    monkeypatch.setenv("XO_TOPIC_PREFIX", prefix)
    if setting is None:
        monkeypatch.delenv("XO_PACK_STATES", raising=False)
    else:
        monkeypatch.setenv("XO_PACK_STATES", setting)
    store = redis_store(Settings())
    state = _state()
    try:
        assert await store.commit([Commit(state.customer_id, 0, state, {})]) == []
        assert is_packed(await _stored(store.client, store, state.customer_id)) is packed
    finally:
        await store.client.aclose()
