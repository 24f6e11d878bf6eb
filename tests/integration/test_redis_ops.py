"""redis_ops' round trips on a real Redis: raw replies in order, error replies in place, and a
connection whose round trip failed is never handed out again half read."""

from __future__ import annotations

import pytest

from orchestrator.adapters import redis_ops
from orchestrator.adapters.redis_ops import Call, Client, Script, connect, eval_many, execute
from orchestrator.errors import TransientError

ECHO = Script.of("return ARGV[1]")
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
