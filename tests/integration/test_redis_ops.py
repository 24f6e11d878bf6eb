"""redis_ops' round trips on a real Redis: raw replies in order, error replies in place, and a
connection whose round trip failed is never handed out again half read."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import redis

from orchestrator.adapters import redis_ops
from orchestrator.adapters.redis_ops import Call, Client, Script, connect, eval_many, execute
from orchestrator.errors import TransientError

ECHO = Script.of("return ARGV[1]")
SET_ECHO = Script.of("redis.call('SET', KEYS[1], ARGV[1]); return ARGV[1]")
BUSY_HALF_S = Script.of("""
local t = redis.call('TIME')
while true do
  local n = redis.call('TIME')
  if (n[1] - t[1]) * 1000000 + (n[2] - t[2]) >= 500000 then return 1 end
end
""")


@pytest.mark.integration
async def test_raw_replies_come_in_order_with_error_replies_in_place(redis_url: str, prefix: str) -> None:
    client = connect(redis_url, socket_timeout=5)
    try:
        key = f"{prefix}:k"
        replies = await _pipelined_raw(client, [("SET", key, "v"), ("INCR", key), ("GET", key), ("MGET", key, "x")])
        assert replies[0] == b"OK"
        assert isinstance(replies[1], Exception)  # "value is not an integer": that command's reply only
        assert replies[2:] == [b"v", [b"v", None]]
        with pytest.raises(Exception, match="not an integer"):
            await execute(client, [("INCR", key)], raw=True)
        assert await execute(client, [("GET", key)], raw=True) == [b"v"]  # the connection is still in step
    finally:
        await client.aclose()


@pytest.mark.integration
async def test_a_round_trip_that_times_out_leaves_no_reply_behind(redis_url: str, prefix: str) -> None:
    client = connect(redis_url, socket_timeout=0.2)
    try:
        with pytest.raises(TransientError):
            await eval_many(client, BUSY_HALF_S, [Call([f"{prefix}:slow"], [])])
        patient = connect(redis_url, socket_timeout=5)
        await patient.ping()  # answered once the script is done: its late reply has been sent
        await patient.aclose()
        # That late reply must not become the answer to the next call.
        assert await eval_many(client, ECHO, [Call([f"{prefix}:a"], ["a"]), Call([f"{prefix}:b"], ["b"])]) == [
            b"a",
            b"b",
        ]
    finally:
        await client.aclose()


async def _pipelined_raw(client: Client, commands: list[tuple[object, ...]]) -> list[object]:
    """The replies of a raw round trip as they came, error replies included (``execute`` raises on them)."""
    return await redis_ops._pipelined(client, commands, raw=True)  # noqa: SLF001 - the replies before errors are raised


@pytest.mark.integration
async def test_a_long_round_trip_is_written_in_parts_while_its_calls_are_built(redis_url: str, prefix: str) -> None:
    """Calls from a generator: Redis has run the first part before the rest is built, and the
    replies of all the parts come back in order, as from one write."""
    client = connect(redis_url, socket_timeout=5)
    watcher = redis.Redis.from_url(redis_url)
    seen_first_part: list[bool] = []
    total = redis_ops.SEND_EVERY * 2 + 3

    def calls() -> Iterator[Call]:
        for n in range(total):
            if n == redis_ops.SEND_EVERY:  # the first part was written: Redis runs it meanwhile
                seen_first_part.append(_appears(watcher, f"{prefix}:k0"))
            yield Call([f"{prefix}:k{n}"], [str(n)])

    try:
        await eval_many(client, SET_ECHO, [Call([f"{prefix}:warm"], ["w"])])  # loaded: no NOSCRIPT round
        replies = await eval_many(client, SET_ECHO, calls(), before=[("SET", f"{prefix}:before", "b")])
        assert replies == [str(n).encode() for n in range(total)]
        assert seen_first_part == [True]
        assert await execute(client, [("GET", f"{prefix}:before")], raw=True) == [b"b"]
    finally:
        watcher.close()
        await client.aclose()


@pytest.mark.integration
async def test_a_failure_while_building_the_calls_leaves_no_reply_behind(redis_url: str, prefix: str) -> None:
    client = connect(redis_url, socket_timeout=5)

    def calls() -> Iterator[Call]:
        for n in range(redis_ops.SEND_EVERY + 1):
            yield Call([f"{prefix}:k{n}"], [str(n)])
        raise ValueError("a call that cannot be built")

    try:
        await eval_many(client, SET_ECHO, [Call([f"{prefix}:warm"], ["w"])])  # loaded: no NOSCRIPT round
        with pytest.raises(ValueError, match="cannot be built"):
            await eval_many(client, SET_ECHO, calls())
        # The parts already written ran; their replies must not answer the next round trip.
        assert await eval_many(client, ECHO, [Call([f"{prefix}:a"], ["a"])]) == [b"a"]
        assert await execute(client, [("GET", f"{prefix}:k0")], raw=True) == [b"0"]
    finally:
        await client.aclose()


def _appears(watcher: redis.Redis, key: str, within_s: float = 5.0) -> bool:
    """Whether ``key`` exists within ``within_s`` (asked from another connection)."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if watcher.exists(key):
            return True
    return False


@pytest.mark.integration
async def test_each_reply_is_handed_over_in_order_and_errors_still_raise(redis_url: str, prefix: str) -> None:
    client = connect(redis_url, socket_timeout=5)
    script = Script.of(f"return ARGV[1] .. '{prefix}'")  # new to this Redis: the first run finds no script
    seen: list[tuple[int, object]] = []
    try:
        calls = [Call([f"{prefix}:{n}"], [str(n)]) for n in range(3)]
        replies = await eval_many(client, script, calls, before=[("SET", f"{prefix}:b", "b")], each=_into(seen))
        assert replies == [f"{n}{prefix}".encode() for n in range(3)]
        assert seen == [(n, f"{n}{prefix}".encode()) for n in range(3)]  # after its second run, without `before`
        seen.clear()
        failing = Script.of("if ARGV[1] == 'x' then return redis.error_reply('no x') end return ARGV[1]")
        await eval_many(client, failing, [Call([f"{prefix}:w"], ["w"])])  # loaded
        with pytest.raises(Exception, match="no x"):
            await eval_many(client, failing, [Call([f"{prefix}:{c}"], [c]) for c in "axb"], each=_into(seen))
        assert seen == [(0, b"a"), (2, b"b")]  # the error reply is not handed over; it raises at the end
    finally:
        await client.aclose()


def _into(seen: list[tuple[int, object]]) -> redis_ops.Reply:
    return lambda index, reply: seen.append((index, reply))
