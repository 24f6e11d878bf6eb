"""redis_ops.packed sends exactly the bytes redis-py's own packer sends (pure: no server needed)."""

from __future__ import annotations

from typing import Any

import pytest
from redis.asyncio.connection import Connection
from redis.exceptions import DataError

from orchestrator.adapters.redis_ops import packed

BIG = bytes(range(256)) * 40  # above redis-py's 6,000-byte chunking cutoff: it splits, the bytes agree


@pytest.mark.parametrize(
    "commands",
    [
        [("EVALSHA", "a" * 40, 2, "xo:{M1}:state", "xo:{M1}:outbox", "0", "1", b"\x01zstd", "k", b'{"t":"x"}')],
        [("ZADD", "xo:timers:{p3:1}", 1767225600000, "M1\x1fwait:i1", -5, "M2\x1fcycle"), ("ZREM", "k", "m")],
        [("HSET", "客户:{王}", "名", "张三"), ("SET", "big", BIG), ("GET", "big"), ("MGET", "a", "b", "c")],
        [("PING",)],
    ],
)
def test_the_bytes_are_redis_pys(commands: list[tuple[Any, ...]]) -> None:
    connection = Connection()
    assert packed(connection, commands) == b"".join(connection.pack_commands(commands))


@pytest.mark.parametrize(
    "odd",
    [("SET", "k", 1.5), ("SET", "k", memoryview(b"v")), ("SCRIPT LOAD", "return 1"), (b"GET", "k")],
)
def test_other_arguments_are_left_to_redis_py(odd: tuple[Any, ...]) -> None:
    connection = Connection()
    commands = [("GET", "before"), odd]
    assert packed(connection, commands) == connection.pack_commands(commands)


def test_strings_are_encoded_as_the_connection_encodes_them() -> None:
    connection = Connection(encoding="latin-1")
    commands = [("SET", "k", "é")]
    assert packed(connection, commands) == connection.pack_commands(commands)
    assert b"\xe9" in b"".join(packed(connection, commands))


def test_a_bool_is_refused_as_redis_py_refuses_it() -> None:
    with pytest.raises(DataError, match="bool"):
        packed(Connection(), [("SET", "k", True)])
